import {
  GraphQLError,
  getOperationAST,
  getVariableValues,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import type { WebSocket } from 'ws';
import type { RequestContext } from '../../../kernel/context';
import { checkLimits, operationCost, type QueryLimits } from '../../limits';
import type { FieldPolicies } from '../../policies';
import { checkInputText } from '../../text-input';
import { retryAfterMs, type SubscriptionHub } from '../hub';
import {
  canonicalSubscription,
  splitSubscription,
  stableJson,
  type CanonicalSubscription,
  type SplitSubscription,
} from '../operations';
import { dependsOnViewer, type SubscriptionRoute } from '../routing';
import type { SubscriptionLimiter } from '../subscription-limits';
import { CLOSE_TOO_SLOW, closeSocket } from './close-codes';
import type { Connection, ConnectionRegistry } from './connections';
import { DocumentCache } from './documents';

const MAX_BUFFERED_BYTES = 1024 * 1024;
const FRAME_SUFFIX = Buffer.from('}');

/** A subscription as routed and counted, handed from onSubscribe to subscribe. */
interface Prepared {
  route: SubscriptionRoute;
  canonical: CanonicalSubscription;
  split: SplitSubscription;
}

/** What graphql-ws passes from `onSubscribe` to `execute`/`subscribe`, as the execution's context value. */
export interface OperationContext {
  ctx: RequestContext;
  socket: WebSocket;
  connection: Connection;
  operationId: string;
  prepared?: Prepared;
  payload: object;
}

export interface SubscribeOptions {
  schema: () => GraphQLSchema | undefined;
  routes: () => Map<string, SubscriptionRoute>;
  policies: () => FieldPolicies;
  hub: SubscriptionHub;
  limits: QueryLimits;
  production: boolean;
}

interface SubscribeMessage {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

const badInput = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });

/**
 * A `subscribe` message, as the gateway answers it over HTTP: the caller checked again, the operation parsed,
 * validated and within the limits; a subscription also routed to its owning subgraph and counted against every
 * subscription limit before that subgraph is asked anything. Queries and mutations run through the gateway;
 * subscriptions through the hub.
 */
export class SubscribeHandler {
  private readonly documents: DocumentCache;

  constructor(
    private readonly options: SubscribeOptions,
    private readonly connections: ConnectionRegistry,
    private readonly limiter: SubscriptionLimiter,
  ) {
    this.documents = new DocumentCache(options.production);
  }

  /** graphql-ws `onSubscribe`: the execution's arguments, or the errors it is refused with. */
  async onSubscribe(
    socket: WebSocket,
    connection: Connection,
    id: string,
    payload: SubscribeMessage,
  ): Promise<ExecutionArgs | readonly GraphQLError[]> {
    if (!(await this.connections.recheck(socket, connection)))
      return [new GraphQLError('Not allowed', { extensions: { code: 'UNAUTHENTICATED' } })];
    const schema = this.options.schema();
    if (!schema)
      return [
        new GraphQLError('Gateway is not ready', {
          extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterMs: retryAfterMs() },
        }),
      ];
    const document = this.documents.document(schema, payload.query);
    if (Array.isArray(document)) return document;
    const variables = (payload.variables ?? {}) as Record<string, unknown>;
    const violation =
      checkInputText(document, variables) ??
      checkLimits(schema, document, payload.operationName, variables, this.options.limits);
    if (violation) return [violation];
    const operation = getOperationAST(document, payload.operationName);
    let prepared: Prepared | undefined;
    if (operation?.operation === 'subscription') {
      const admitted = this.admitSubscription(schema, document, operation, variables, socket, connection, payload);
      if (!('route' in admitted)) return admitted;
      prepared = admitted;
    }
    const contextValue: OperationContext = {
      ctx: connection.ctx!,
      socket,
      connection,
      operationId: id,
      prepared,
      payload,
    };
    return { schema, document, operationName: payload.operationName, variableValues: variables, contextValue };
  }

  /** The subscription routed and counted against every limit (its release kept on the connection); or why not. */
  private admitSubscription(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Record<string, unknown>,
    socket: WebSocket,
    connection: Connection,
    payload: SubscribeMessage,
  ): Prepared | readonly GraphQLError[] {
    // Coerced here, so that errors name the client's own variables (the subgraph sees them renamed).
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables, { maxErrors: 10 });
    if (coerced.errors)
      return coerced.errors.map(
        (e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'BAD_USER_INPUT' } }),
      );
    const routed = this.prepare(schema, document, operation, variables);
    if (routed instanceof GraphQLError) return [routed];
    // Counted against every limit before the owning subgraph is asked anything.
    if (socket.readyState !== socket.OPEN)
      return [new GraphQLError('Connection closed', { extensions: { code: 'BAD_REQUEST' } })];
    const ctx = connection.ctx!;
    const reserved = this.limiter.reserve(
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
    return routed;
  }

  /** The subscription's owning subgraph, its shared form and its split into stream and per-event lookup; or why not. */
  private prepare(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Record<string, unknown>,
  ): Prepared | GraphQLError {
    try {
      const canonical = canonicalSubscription(document, operation, variables, schema);
      const field = canonical.operation.selectionSet.selections[0] as FieldNode;
      const route = this.options.routes().get(field.name.value);
      if (!route) return badInput('This subscription cannot be routed');
      const split = splitSubscription(canonical.document, canonical.operation, route.lookupField, route.subgraphSchema);
      const perViewer = dependsOnViewer(schema, canonical.document, this.options.policies());
      return { route, canonical, split: { ...split, perViewer } };
    } catch (err) {
      return badInput((err as Error).message);
    }
  }

  /** graphql-ws `subscribe`: the hub's stream, whose events go straight to the socket. */
  async subscribe(operation: OperationContext): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const { ctx, socket, connection, operationId, payload } = operation;
    const { route, canonical, split } = operation.prepared!;
    const framePrefix = Buffer.from(`{"id":${JSON.stringify(operationId)},"type":"next","payload":`);
    try {
      return (await this.options.hub.subscribe(route, split, canonical.key, canonical.variables, {
        ctx,
        responseKey: canonical.responseKey,
        stillValid: () => this.connections.stillValid(socket, connection),
        // Events go straight to the socket, framed as graphql-ws `next` messages around the group's one serialisation.
        send: (json) => {
          if (socket.readyState !== socket.OPEN) return;
          if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
            closeSocket(socket, CLOSE_TOO_SLOW, 'Client is not reading its events');
            return;
          }
          socket.send(Buffer.concat([framePrefix, json, FRAME_SUFFIX]), { binary: false });
        },
      })) as AsyncIterableIterator<ExecutionResult> | ExecutionResult;
    } catch (err) {
      // A subscription that fails to start is never completed by graphql-ws: its place is given back here.
      this.connections.release(connection, payload);
      throw err;
    }
  }
}
