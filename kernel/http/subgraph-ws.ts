import type { Server } from 'node:http';
import type { KeyObject } from 'node:crypto';
import {
  GraphQLError,
  execute,
  subscribe,
  type ExecutionArgs,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { CONTEXT_HEADER, ContextTokenError, verifyContextToken } from '../context-token';
import { runWithContext, runWithState, type RequestContext, type RequestState } from '../context';
import { AUDIENCE_EXTENSION, PROBE_EXTENSION, declaredAudience } from '../subscription-audience';
import { makeFormatError } from '../errors';
import { logger } from '../log';

export interface SubgraphWsOptions {
  name: string;
  schema: GraphQLSchema;
  httpServer: Server;
  contextPublicKey: KeyObject;
  /** Handed to resolvers as the GraphQL context value (the subgraph's deps). */
  contextValue: object;
  /** Production: errors are masked as over HTTP (unexpected ones become INTERNAL_SERVER_ERROR, no details). */
  production?: boolean;
}

type Extra = { operations?: Map<string, RequestContext>; probes?: Set<string> };

/**
 * Wraps an async iterator so each step (and so every resolver run for an event) sees the caller's
 * request context in AsyncLocalStorage.
 */
export function bindToContext<T>(ctx: RequestContext, iterator: AsyncIterator<T>): AsyncIterableIterator<T> {
  return {
    next: () => runWithContext(ctx, () => iterator.next()),
    return: () =>
      iterator.return
        ? runWithContext(ctx, () => iterator.return!())
        : Promise.resolve({ value: undefined, done: true }),
    throw: (err?: unknown) => (iterator.throw ? iterator.throw(err) : Promise.reject(err)),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

async function* once<T>(value: T): AsyncGenerator<T> {
  yield value;
}

function isAsyncIterator<T>(value: unknown): value is AsyncIterator<T> {
  return typeof (value as AsyncIterator<T>)?.next === 'function';
}

/**
 * GraphQL over WebSocket (graphql-ws) on the subgraph's /graphql path, for the gateway only: the
 * connection must present a context token signed by the gateway for this subgraph, and every operation
 * carries the caller's own signed context in `extensions` (so one socket serves many callers).
 */
export function startSubgraphWs(options: SubgraphWsOptions): { dispose(): Promise<void> } {
  const log = logger(`subgraph.${options.name}.ws`);
  const wss = new WebSocketServer({ server: options.httpServer, path: '/graphql' });
  const verify = (token: unknown) =>
    typeof token === 'string'
      ? verifyContextToken(token, options.name, options.contextPublicKey)
      : Promise.reject(new ContextTokenError('missing'));
  const formatError = makeFormatError(options.production === true);
  const format = (e: GraphQLError | GraphQLFormattedError) =>
    formatError(e instanceof GraphQLError ? e.toJSON() : e, e);
  const server = useServer<Record<string, unknown> | undefined, Extra>(
    {
      schema: options.schema,
      // Errors are formatted as the subgraph's HTTP side formats them.
      onNext: (_c, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map(format) } : result,
      onError: (_c, _id, _payload, errors) =>
        errors.map((e) => {
          const formatted = format(e);
          return new GraphQLError(formatted.message, { path: formatted.path, extensions: formatted.extensions });
        }),
      onConnect: async (c) => {
        try {
          await verify(c.connectionParams?.[CONTEXT_HEADER]);
          c.extra.operations = new Map();
          return true;
        } catch (err) {
          log.warn({ reason: (err as ContextTokenError).reason }, 'refused WebSocket connection');
          return false;
        }
      },
      onSubscribe: async (c, id, payload) => {
        try {
          (c.extra.operations ??= new Map()).set(id, await verify(payload.extensions?.[CONTEXT_HEADER]));
          if (payload.extensions?.[PROBE_EXTENSION] === true) (c.extra.probes ??= new Set()).add(id);
        } catch (err) {
          const reason = err instanceof ContextTokenError ? err.reason : 'unreadable';
          return [
            new GraphQLError(`Invalid signed request context (${reason})`, { extensions: { code: 'UNAUTHENTICATED' } }),
          ];
        }
      },
      onComplete: (c, id) => {
        c.extra.operations?.delete(id);
        c.extra.probes?.delete(id);
      },
      context: (c, id) => ({
        ...options.contextValue,
        requestContext: c.extra.operations?.get(id),
        probe: c.extra.probes?.has(id) === true,
      }),
      subscribe: async (args: ExecutionArgs) => {
        const { requestContext: ctx, probe } = args.contextValue as { requestContext: RequestContext; probe: boolean };
        const state: RequestState = { ctx, responseExtensions: {} };
        const result = await runWithState(state, () => subscribe(args));
        if (!isAsyncIterator(result)) return result;
        if (!probe) return bindToContext(ctx, result);
        // Admitted: answer with the audience the subscription declared, and stop listening.
        await result.return?.();
        return once({
          data: null,
          extensions: { [AUDIENCE_EXTENSION]: declaredAudience(state.responseExtensions, ctx.userId) },
        });
      },
      execute: (args: ExecutionArgs) => {
        const ctx = (args.contextValue as { requestContext: RequestContext }).requestContext;
        return runWithContext(ctx, () => execute(args));
      },
    },
    wss,
  );
  return {
    async dispose() {
      await server.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
