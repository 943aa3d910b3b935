import type { IncomingMessage, Server } from 'node:http';
import { GraphQLError, print, type ExecutionResult, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { WebSocket } from 'ws';
import { WebSocketServer } from 'ws';
import type { RequestContext } from '../../kernel/context';
import { logger } from '../../kernel/log';
import type { AuthSettings } from '../authenticate';
import type { QueryLimits } from '../limits';
import type { FieldPolicies } from '../policies';
import type { SubscriptionHub, FederatedExecutor } from './hub';
import type { SubscriptionRoute } from './routing';
import type { AccessGuard } from './sessions';
import { SubscriptionLimiter, type SubscriptionLimits } from './subscription-limits';
import { ConnectionRegistry, type Connection } from './ws/connections';
import { SubscribeHandler, type OperationContext } from './ws/subscribe';

export {
  CLOSE_FORBIDDEN,
  CLOSE_TOO_MANY,
  CLOSE_TOO_SLOW,
  CLOSE_TRY_AGAIN_LATER,
  CLOSE_UNAUTHORIZED,
} from './ws/close-codes';

const log = logger('gateway.ws');

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

type Extra = { connection?: Connection; socket: WebSocket; request: IncomingMessage };

/**
 * The WebSocket server on the gateway's own port and path. A handshake is refused before any message: a browser
 * Origin the CORS policy does not allow (403), or far more connections from the address than it may keep (429,
 * unauthenticated floods); a message is bounded like an HTTP request body.
 */
function webSocketServer(
  options: GatewayWsOptions,
  limiter: SubscriptionLimiter,
  addressOf: (req: IncomingMessage) => string | null,
): WebSocketServer {
  const wss = new WebSocketServer({
    server: options.httpServer,
    path: '/graphql',
    maxPayload: options.maxMessageBytes,
    verifyClient: ({ req }, done) => {
      if (options.allowUpgrade && !options.allowUpgrade(req)) return done(false, 403, 'Origin not allowed');
      if (!limiter.mayOpen(addressOf(req))) return done(false, 429, 'Too many connections from this address');
      done(true);
    },
  });
  wss.on('connection', (socket, req) => socket.once('close', limiter.opened(addressOf(req))));
  return wss;
}

/**
 * graphql-ws on the gateway's own port and path. `connection_init` carries the access token; the caller
 * is authenticated once and re-checked before every event (revoked session, suspended tenant or expired
 * token end the connection with 4401/4403): ws/connections.ts. Subscriptions go through the hub; queries and
 * mutations sent over the socket run through the gateway exactly as over HTTP: ws/subscribe.ts.
 */
export function startGatewayWs(options: GatewayWsOptions): {
  dispose(): Promise<void>;
  stats(): Record<string, number>;
} {
  const limiter = new SubscriptionLimiter(options.subscriptionLimits, options.limits.maxCost);
  const addressOf = (req: IncomingMessage) =>
    options.clientAddress ? options.clientAddress(req) : (req.socket.remoteAddress ?? null);
  const wss = webSocketServer(options, limiter, addressOf);
  const connections = new ConnectionRegistry({ ...options, limiter, addressOf });
  const handler = new SubscribeHandler(options, connections, limiter);
  const server = useServer<Record<string, unknown> | undefined, Extra>(
    {
      onConnect: (c) => connections.connect(c.extra, c.connectionParams),
      // Results are already formatted by the gateway (plain JSON errors): send them as they are.
      onNext: (_c, _id, _payload, _args, result) => ({
        ...result,
        errors: result.errors?.map((e) => (e instanceof GraphQLError ? e.toJSON() : (e as GraphQLFormattedError))),
      }),
      onComplete: (c, _id, payload) => connections.release(c.extra.connection, payload),
      onClose: (c) => {
        connections.closed(c.extra.socket, c.extra.connection);
        const ctx = c.extra.connection?.ctx;
        if (ctx) options.onClosed?.(ctx);
      },
      onSubscribe: (c, id, payload) => handler.onSubscribe(c.extra.socket, c.extra.connection!, id, payload),
      execute: async (args) => {
        const { ctx } = args.contextValue as OperationContext;
        // Already formatted (masked) by the gateway: sent to the client as it is.
        return (await options.execute(
          print(args.document),
          (args.variableValues ?? {}) as Record<string, unknown>,
          ctx,
        )) as unknown as ExecutionResult;
      },
      subscribe: (args) => handler.subscribe(args.contextValue as OperationContext),
    },
    wss,
  );
  log.debug('graphql-ws ready');
  return {
    stats: () => connections.stats(),
    async dispose() {
      connections.close();
      await server.dispose(); // closes every socket with 1001 Going Away
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
