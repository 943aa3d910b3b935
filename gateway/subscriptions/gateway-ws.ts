import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import {
  GraphQLError,
  getOperationAST,
  getVariableValues,
  parse,
  print,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type FieldNode,
  type OperationDefinitionNode,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { WebSocket } from 'ws';
import { WebSocketServer } from 'ws';
import type { RequestContext } from '../../kernel/context';
import { logger } from '../../kernel/log';
import { authenticate, type AuthSettings } from '../authenticate';
import { checkLimits, operationCost, type QueryLimits } from '../limits';
import { checkInputText } from '../text-input';
import { retryAfterMs, type SubscriptionHub, type FederatedExecutor } from './hub';
import {
  canonicalSubscription,
  splitSubscription,
  stableJson,
  type CanonicalSubscription,
  type SplitSubscription,
} from './operations';
import type { FieldPolicies } from '../policies';
import { dependsOnViewer, type SubscriptionRoute } from './routing';
import type { AccessGuard } from './sessions';
import { SubscriptionLimiter, type SocketHoldings, type SubscriptionLimits } from './subscription-limits';

/** Close codes clients act on: 4401 sign in again, 4403 no longer allowed. */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;
/**
 * The caller cannot be checked right now (identity unreachable, the revocation list stale): reconnect
 * shortly (WebSocket "Try Again Later", which graphql-ws clients retry), never "sign in again".
 */
export const CLOSE_TRY_AGAIN_LATER = 1013;
/** The caller could not be checked for an unexpected reason (a bug, logged): not a verdict on the credential. */
const CLOSE_INTERNAL_ERROR = 1011;
const checksUnavailable = (err: unknown) =>
  err instanceof GraphQLError && err.extensions.code === 'SERVICE_UNAVAILABLE';
/** A client this far behind on its events is disconnected (it reconnects and catches up from history). */
export const CLOSE_TOO_SLOW = 4408;
/** Too many connections for the user or from the address (as HTTP 429): the socket is closed. */
export const CLOSE_TOO_MANY = 4429;
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** Parsed, valid operations kept for reuse (oldest dropped first). */
const MAX_DOCUMENTS = 1_000;
const MAX_CACHED_QUERY_CHARS = 8_192;
const FRAME_SUFFIX = Buffer.from('}');

export interface GatewayWsOptions {
  httpServer: Server;
  schema: () => GraphQLSchema | undefined;
  routes: () => Map<string, SubscriptionRoute>;
  /** What the subgraphs declared for the gateway (viewer-dependent fields). */
  policies: () => FieldPolicies;
  hub: SubscriptionHub;
  execute: FederatedExecutor;
  guard: AccessGuard;
  auth: AuthSettings;
  limits: QueryLimits;
  /** What each socket, user, tenant and client address may hold. */
  subscriptionLimits: SubscriptionLimits;
  /** Production: validation errors carry no "Did you mean …?" suggestions (as over HTTP). */
  production: boolean;
  /** The client's address as the HTTP side sees it (X-Forwarded-For from trusted proxies). */
  clientAddress?: (req: IncomingMessage) => string | null;
  /**
   * The caller's context as of now, from the context first authenticated and the credential presented
   * (null: no longer allowed — key revoked, no longer a member).
   */
  revalidate: (authenticated: RequestContext, credential: string) => Promise<RequestContext | null>;
  /** Largest WebSocket message accepted (as LIMIT_MAX_BODY_BYTES for HTTP). */
  maxMessageBytes: number;
  /** A client's connection closed (the context carries its connectionId). */
  onClosed?: (ctx: RequestContext) => void;
  /** Whether a handshake may open (browsers' Origin against the CORS allow-list); refused with 403. */
  allowUpgrade?: (req: IncomingMessage) => boolean;
}

interface Connection {
  ctx?: RequestContext;
  /** The context as authenticated from the credential, before current rights were applied. */
  authenticated: RequestContext;
  /** The bearer credential (access token or API key) presented at connect. */
  credential: string;
  expiresAt?: number;
  address: string | null;
  /** Whom its sockets and subscriptions count against: the user, or the API key (by its prefix) for a key. */
  holder: string | null;
  /** Subscriptions it holds (count and cost per event), each with its release, by its subscribe message. */
  holdings: SocketHoldings;
  held: Map<object, () => void>;
  releaseSocket: () => void;
}
type Extra = { connection?: Connection; socket: WebSocket; request: IncomingMessage };

/** A subscription as routed and counted, handed from onSubscribe to subscribe. */
interface Prepared {
  route: SubscriptionRoute;
  canonical: CanonicalSubscription;
  split: SplitSubscription;
}

/** As Apollo Server does for HTTP when schema details are hidden from clients (production). */
function withoutSuggestions(message: string): string {
  return message.replace(/ ?Did you mean(.+?)\?$/, '');
}

const log = logger('gateway.ws');

function tokenFrom(params: Record<string, unknown> | undefined): string | undefined {
  const raw = params?.authorization ?? params?.Authorization ?? params?.accessToken;
  if (typeof raw !== 'string') return undefined;
  return raw.startsWith('Bearer ') ? raw : `Bearer ${raw}`;
}

function claimsExpiry(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { exp?: number };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * graphql-ws on the gateway's own port and path. `connection_init` carries the access token; the caller
 * is authenticated once and re-checked before every event (revoked session, suspended tenant or expired
 * token end the connection with 4401/4403). Subscriptions go through the hub; queries and mutations sent
 * over the socket run through the gateway exactly as over HTTP.
 */
export function startGatewayWs(options: GatewayWsOptions): {
  dispose(): Promise<void>;
  stats(): Record<string, number>;
} {
  const limiter = new SubscriptionLimiter(options.subscriptionLimits, options.limits.maxCost);
  const addressOf = (req: IncomingMessage) =>
    options.clientAddress ? options.clientAddress(req) : (req.socket.remoteAddress ?? null);
  // A message is bounded like an HTTP request body.
  const wss = new WebSocketServer({
    server: options.httpServer,
    path: '/graphql',
    maxPayload: options.maxMessageBytes,
    verifyClient: ({ req }, done) => {
      if (options.allowUpgrade && !options.allowUpgrade(req)) return done(false, 403, 'Origin not allowed');
      // Handshakes far beyond what an address may keep are not even answered (unauthenticated floods).
      if (!limiter.mayOpen(addressOf(req))) return done(false, 429, 'Too many connections from this address');
      done(true);
    },
  });
  wss.on('connection', (socket, req) => socket.once('close', limiter.opened(addressOf(req))));
  const documents = new Map<string, { schema: GraphQLSchema; document: DocumentNode }>();
  const sockets = new Map<WebSocket, Connection>();
  const stillValid = (socket: WebSocket, c: Connection): boolean => {
    const ctx = c.ctx;
    if (!ctx) return false;
    if (options.guard.isRevoked(ctx.sessionId)) return close(socket, CLOSE_UNAUTHORIZED, 'Session revoked');
    if (options.guard.isSuspended(ctx.tenantId)) return close(socket, CLOSE_FORBIDDEN, 'Tenant suspended');
    if (c.expiresAt !== undefined && c.expiresAt <= Date.now())
      return close(socket, CLOSE_UNAUTHORIZED, 'Access token expired');
    return true;
  };
  const close = (socket: WebSocket, code: number, reason: string): false => {
    if (socket.readyState === socket.OPEN) socket.close(code, reason);
    return false;
  };
  /** Re-reads the caller's rights: gone → 4403 (4401 for a key); changed → 4401 so the client reconnects with them. */
  const recheck = async (socket: WebSocket, c: Connection): Promise<boolean> => {
    if (!stillValid(socket, c)) return false;
    let now: RequestContext | null;
    try {
      now = await options.revalidate(c.authenticated, c.credential);
    } catch (err) {
      // Fails closed: a socket whose caller cannot be checked is not kept.
      if (checksUnavailable(err)) return close(socket, CLOSE_TRY_AGAIN_LATER, 'Try again later');
      log.error({ err }, 'could not check a connection again');
      return close(socket, CLOSE_INTERNAL_ERROR, 'Internal error');
    }
    if (!now)
      return close(
        socket,
        c.authenticated.authMethod === 'api_key' ? CLOSE_UNAUTHORIZED : CLOSE_FORBIDDEN,
        'Access revoked',
      );
    const before = c.ctx?.permissions.join(' ');
    if (before !== now.permissions.join(' '))
      return close(socket, CLOSE_UNAUTHORIZED, 'Permissions changed; reconnect');
    return true;
  };
  const stopGuard = options.guard.onChange((kind, id) => {
    for (const [socket, c] of sockets) {
      if (kind === 'api_key' && c.credential.startsWith(`${id}_`)) close(socket, CLOSE_UNAUTHORIZED, 'API key revoked');
      else if (kind === 'permissions' && c.ctx?.tenantId === id) void recheck(socket, c);
      else stillValid(socket, c);
    }
  });

  /** The subscription's owning subgraph, its shared form and its split into stream and per-event lookup; or why not. */
  const prepare = (
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Record<string, unknown>,
  ): Prepared | GraphQLError => {
    try {
      const canonical = canonicalSubscription(document, operation, variables, schema);
      const field = canonical.operation.selectionSet.selections[0] as FieldNode;
      const route = options.routes().get(field.name.value);
      if (!route)
        return new GraphQLError('This subscription cannot be routed', { extensions: { code: 'BAD_USER_INPUT' } });
      const split = splitSubscription(canonical.document, canonical.operation, route.lookupField, route.subgraphSchema);
      return {
        route,
        canonical,
        split: { ...split, perViewer: dependsOnViewer(schema, canonical.document, options.policies()) },
      };
    } catch (err) {
      return new GraphQLError((err as Error).message, { extensions: { code: 'BAD_USER_INPUT' } });
    }
  };

  const server = useServer<Record<string, unknown> | undefined, Extra>(
    {
      onConnect: async (c) => {
        const token = tokenFrom(c.connectionParams);
        if (!token) return close(c.extra.socket, CLOSE_UNAUTHORIZED, 'Missing access token');
        try {
          const request = c.extra.request;
          const credential = token.slice(7);
          const address = addressOf(request);
          const authenticated = await authenticate(
            { authorization: token, 'user-agent': request.headers['user-agent'] },
            options.auth,
            address,
          );
          const ctx = await options.revalidate(authenticated, credential);
          if (!ctx) return close(c.extra.socket, CLOSE_FORBIDDEN, 'No longer a member');
          // API-key connections are re-established at least hourly (access tokens expire sooner on their own).
          const expiresAt = authenticated.authMethod === 'api_key' ? Date.now() + 3_600_000 : claimsExpiry(credential);
          if (c.extra.socket.readyState !== c.extra.socket.OPEN) return false;
          const holder =
            authenticated.authMethod === 'api_key'
              ? `api_key:${credential.split('_').slice(0, 2).join('_')}`
              : ctx.userId;
          const admitted = limiter.admitSocket(holder, address);
          if ('refused' in admitted) return close(c.extra.socket, CLOSE_TOO_MANY, admitted.refused);
          const connection: Connection = {
            ctx: { ...ctx, connectionId: randomUUID() },
            authenticated,
            credential,
            expiresAt,
            address,
            holder,
            holdings: { count: 0, cost: 0 },
            held: new Map(),
            releaseSocket: admitted.release,
          };
          c.extra.connection = connection;
          if (!stillValid(c.extra.socket, connection)) {
            connection.releaseSocket();
            return false;
          }
          sockets.set(c.extra.socket, connection);
          return true;
        } catch (err) {
          if (checksUnavailable(err)) return close(c.extra.socket, CLOSE_TRY_AGAIN_LATER, 'Try again later');
          if (!(err instanceof GraphQLError)) {
            log.error({ err }, 'could not check a connection');
            return close(c.extra.socket, CLOSE_INTERNAL_ERROR, 'Internal error');
          }
          return close(c.extra.socket, CLOSE_UNAUTHORIZED, 'Invalid access token');
        }
      },
      // Results are already formatted by the gateway (plain JSON errors): send them as they are.
      onNext: (_c, _id, _payload, _args, result) => ({
        ...result,
        errors: result.errors?.map((e) => (e instanceof GraphQLError ? e.toJSON() : (e as GraphQLFormattedError))),
      }),
      onComplete: (c, _id, payload) => {
        const connection = c.extra.connection;
        const release = connection?.held.get(payload);
        if (!release) return;
        connection!.held.delete(payload);
        release();
      },
      onClose: (c) => {
        sockets.delete(c.extra.socket);
        const connection = c.extra.connection;
        if (connection) {
          for (const release of connection.held.values()) release();
          connection.held.clear();
          connection.releaseSocket();
        }
        const ctx = connection?.ctx;
        if (ctx) options.onClosed?.(ctx);
      },
      onSubscribe: async (c, id, payload) => {
        const connection = c.extra.connection!;
        if (!(await recheck(c.extra.socket, connection)))
          return [new GraphQLError('Not allowed', { extensions: { code: 'UNAUTHENTICATED' } })];
        const schema = options.schema();
        if (!schema)
          return [
            new GraphQLError('Gateway is not ready', {
              extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterMs: retryAfterMs() },
            }),
          ];
        // Thousands of clients send the same few operations: each is parsed and validated once per schema.
        let known = documents.get(payload.query);
        if (!known || known.schema !== schema) {
          let document: DocumentNode;
          try {
            document = parse(payload.query, { noLocation: true });
          } catch (err) {
            return [new GraphQLError((err as Error).message, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
          }
          if (validate(schema, document).length) {
            // Reported with source locations (the document kept for reuse has none).
            const errors = validate(schema, parse(payload.query));
            return errors.map(
              (e) =>
                new GraphQLError(options.production ? withoutSuggestions(e.message) : e.message, {
                  nodes: e.nodes,
                  extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
                }),
            );
          }
          known = { schema, document };
          if (payload.query.length <= MAX_CACHED_QUERY_CHARS) {
            if (documents.size >= MAX_DOCUMENTS) documents.delete(documents.keys().next().value!);
            documents.set(payload.query, known);
          }
        }
        const document = known.document;
        const variables = (payload.variables ?? {}) as Record<string, unknown>;
        const violation =
          checkInputText(document, variables) ??
          checkLimits(schema, document, payload.operationName, variables, options.limits);
        if (violation) return [violation];
        const operation = getOperationAST(document, payload.operationName);
        let prepared: Prepared | undefined;
        if (operation?.operation === 'subscription') {
          // Coerced here, so that errors name the client's own variables (the subgraph sees them renamed).
          const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables, { maxErrors: 10 });
          if (coerced.errors)
            return coerced.errors.map(
              (e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'BAD_USER_INPUT' } }),
            );
          const routed = prepare(schema, document, operation, variables);
          if (routed instanceof GraphQLError) return [routed];
          prepared = routed;
          // Counted against every limit before the owning subgraph is asked anything.
          if (c.extra.socket.readyState !== c.extra.socket.OPEN)
            return [new GraphQLError('Connection closed', { extensions: { code: 'BAD_REQUEST' } })];
          const ctx = connection.ctx!;
          const reserved = limiter.reserve(
            {
              userId: connection.holder,
              tenantId: ctx.tenantId,
              address: connection.address,
              stream: `${routed.route.subgraph}/${routed.canonical.stream}`,
              variant: stableJson([
                routed.canonical.key,
                routed.canonical.variables,
                [...ctx.roles].sort(),
                [...ctx.permissions].sort(),
              ]),
              cost: operationCost(schema, document, payload.operationName, variables),
            },
            connection.holdings,
          );
          if (reserved instanceof GraphQLError) return [reserved];
          connection.held.set(payload, reserved);
        }
        const args: ExecutionArgs = {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: variables,
          contextValue: { ctx: connection.ctx, socket: c.extra.socket, connection, operationId: id, prepared, payload },
        };
        return args;
      },
      execute: async (args) => {
        const { ctx } = args.contextValue as { ctx: RequestContext };
        // Already formatted (masked) by the gateway: sent to the client as it is.
        return (await options.execute(
          print(args.document),
          (args.variableValues ?? {}) as Record<string, unknown>,
          ctx,
        )) as unknown as ExecutionResult;
      },
      subscribe: async (args) => {
        const { ctx, socket, connection, operationId, prepared, payload } = args.contextValue as {
          ctx: RequestContext;
          socket: WebSocket;
          connection: Connection;
          operationId: string;
          prepared: Prepared;
          payload: object;
        };
        const framePrefix = Buffer.from(`{"id":${JSON.stringify(operationId)},"type":"next","payload":`);
        const { route, canonical, split } = prepared;
        try {
          return (await options.hub.subscribe(route, split, canonical.key, canonical.variables, {
            ctx,
            responseKey: canonical.responseKey,
            stillValid: () => stillValid(socket, connection),
            // Events go straight to the socket, framed as graphql-ws `next` messages around the group's one serialisation.
            send: (json) => {
              if (socket.readyState !== socket.OPEN) return;
              if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
                close(socket, CLOSE_TOO_SLOW, 'Client is not reading its events');
                return;
              }
              socket.send(Buffer.concat([framePrefix, json, FRAME_SUFFIX]), { binary: false });
            },
          })) as AsyncIterableIterator<ExecutionResult> | ExecutionResult;
        } catch (err) {
          // A subscription that fails to start is never completed by graphql-ws: its place is given back here.
          connection.held.get(payload)?.();
          connection.held.delete(payload);
          throw err;
        }
      },
    },
    wss,
  );
  log.debug('graphql-ws ready');
  return {
    stats() {
      let subscriptions = 0;
      for (const c of sockets.values()) subscriptions += c.holdings.count;
      return { sockets: sockets.size, subscriptionsHeld: subscriptions };
    },
    async dispose() {
      stopGuard();
      await server.dispose(); // closes every socket with 1001 Going Away
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
