import { createServer, type Server } from 'node:http';
import type { KeyObject } from 'node:crypto';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type Express, type Request, type Response, type NextFunction } from 'express';
import type { GraphQLSchema } from 'graphql';
import { ADMISSION_REQUIRED_STATUS, AdmissionRequired, EFFECTS_HEADER, effectsHeader } from '../admission';
import { CONTEXT_HEADER, ContextTokenError, verifyContextToken } from '../context-token';
import { currentRequestState, runWithContext, type RequestState } from '../context';
import { makeFormatError } from '../errors';
import { logger } from '../log';
import { serveInternalCall, type AnyInternalHandlers } from '../contracts/internal-calls';
import { closeServer, listen, urlFor, type RunningService } from './service';
import { startSubgraphWs } from './subgraph-ws';
import {
  hookAudience,
  safeHookPath,
  HOOK_CLIENT_IP_HEADER,
  HOOK_HEADERS,
  HOOK_ORIGIN_HEADER,
  HOOK_MAX_BYTES,
  HOOK_RESPONSE_HEADERS,
  type HookHandler,
  type HookResponse,
} from './hooks';

export interface SubgraphServerOptions {
  name: string;
  schema: GraphQLSchema;
  host: string;
  port: number;
  contextPublicKey: KeyObject;
  production: boolean;
  shutdownTimeoutMs: number;
  /** Readiness probe: resolves true when the service can serve (database reachable...). */
  ready: () => Promise<boolean>;
  onStop?: () => Promise<void>;
  /** Handed to resolvers as the GraphQL context value (the subgraph's deps). */
  contextValue: object;
  /** POST /internal/<name> handlers, for the gateway's system identity only (requests checked by their schema). */
  internal?: AnyInternalHandlers;
  /** POST /hooks/<path>: public endpoints the gateway forwards (signed as the gateway). */
  hooks?: HookHandler;
}

function refuse(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ errors: [{ message, extensions: { code } }] });
}

/** Returns extensions resolvers asked to hand back to the gateway (e.g. a freshly issued session). */
const responseExtensionsPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async willSendResponse({ response }) {
        const extensions = currentRequestState().responseExtensions;
        if (response.body.kind === 'single' && Object.keys(extensions).length > 0) {
          response.body.singleResult.extensions = { ...response.body.singleResult.extensions, ...extensions };
        }
      },
    };
  },
};

type Logger = ReturnType<typeof logger>;
type Middleware = (req: Request, res: Response, next: NextFunction) => Promise<void>;

function createApollo(options: SubgraphServerOptions, httpServer: Server): ApolloServer {
  return new ApolloServer({
    schema: options.schema,
    introspection: !options.production,
    hideSchemaDetailsFromClientErrors: options.production,
    includeStacktraceInErrorResponses: !options.production,
    formatError: makeFormatError(options.production),
    // The process owner decides when to stop (app/cli/start.ts handles SIGTERM for every service).
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ApolloServerPluginInlineTraceDisabled(),
      responseExtensionsPlugin,
    ],
  });
}

function addProbes(app: Express, options: SubgraphServerOptions): void {
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', service: options.name });
  });
  app.get('/ready', async (_req, res) => {
    const ok = await options.ready().catch(() => false);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', service: options.name });
  });
}

/** Refuses (401) a request without a context token the gateway signed for `audience`; runs the rest in its context. */
function contextVerifier(options: SubgraphServerOptions, log: Logger) {
  return (audience: string): Middleware =>
    async (req, res, next) => {
      const token = req.header(CONTEXT_HEADER);
      if (!token) return refuse(res, 401, 'UNAUTHENTICATED', 'Missing signed request context');
      try {
        const ctx = await verifyContextToken(token, audience, options.contextPublicKey);
        runWithContext(ctx, () => next());
      } catch (err) {
        const reason = err instanceof ContextTokenError ? err.reason : 'unreadable';
        log.warn({ reason, ip: req.ip }, 'refused request context');
        refuse(res, 401, 'UNAUTHENTICATED', `Invalid signed request context (${reason})`);
      }
    };
}

/** POST /internal/:name, for the gateway's system identity only. */
function internalCallHandler(options: SubgraphServerOptions, log: Logger) {
  return async (req: Request, res: Response) => {
    const name = String(req.params.name);
    if (!options.internal || !Object.hasOwn(options.internal, name))
      return refuse(res, 404, 'NOT_FOUND', 'No such internal call');
    if (currentRequestState().ctx.authMethod !== 'system')
      return refuse(res, 403, 'FORBIDDEN', 'Internal calls are for the gateway');
    try {
      const outcome = await serveInternalCall(options.internal, name, req.body);
      if (outcome.status === 'not_found') return refuse(res, 404, 'NOT_FOUND', 'No such internal call');
      if (outcome.status === 'bad_request') {
        log.warn(
          { call: name, issues: outcome.issues },
          'internal call refused: the request does not match its schema',
        );
        return refuse(res, 400, 'BAD_REQUEST', 'Invalid internal call request');
      }
      res.json({ result: outcome.result });
    } catch (err) {
      log.error({ err, call: req.params.name }, 'internal call failed');
      refuse(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal call failed');
    }
  };
}

/** GET|POST /hooks/<path>: the hook request as the gateway forwarded it (system identity only). */
function hookHandler(options: SubgraphServerOptions, log: Logger) {
  return async (req: Request, res: Response) => {
    if (!options.hooks) return refuse(res, 404, 'NOT_FOUND', 'No such hook');
    if (currentRequestState().ctx.authMethod !== 'system')
      return refuse(res, 403, 'FORBIDDEN', 'Hooks are reached through the gateway');
    const headers = Object.fromEntries(
      [...HOOK_HEADERS, HOOK_CLIENT_IP_HEADER, HOOK_ORIGIN_HEADER].map((h) => [h, req.header(h)]),
    );
    const segments = ([] as string[]).concat((req.params as { path?: string | string[] }).path ?? []);
    if (!safeHookPath(segments)) return refuse(res, 404, 'NOT_FOUND', 'No such hook');
    const path = segments.join('/');
    const query = new URLSearchParams(
      req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '',
    );
    const state = currentRequestState();
    try {
      const out = await options.hooks({
        method: req.method === 'GET' ? 'GET' : 'POST',
        path,
        query,
        headers,
        body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
      });
      sendHookResponse(res, out, state);
    } catch (err) {
      // The hook acts for a tenant the call carries no admission for: the gateway admits it and sends the call again.
      if (err instanceof AdmissionRequired)
        return void res.status(ADMISSION_REQUIRED_STATUS).json({ admissionRequired: err.request });
      log.error({ err }, 'hook failed');
      refuse(res, 500, 'INTERNAL_SERVER_ERROR', 'Hook failed');
    }
  };
}

function sendHookResponse(res: Response, out: HookResponse, state: RequestState): void {
  for (const [name, value] of Object.entries(out.headers ?? {}))
    if ((HOOK_RESPONSE_HEADERS as readonly string[]).includes(name)) res.setHeader(name, value);
  // What the hook created, for the gateway to count (kernel/admission.ts); never passed on to the caller.
  const effects = effectsHeader(state);
  if (effects) res.setHeader(EFFECTS_HEADER, effects);
  if (typeof out.body === 'string') res.status(out.status).send(out.body);
  else res.status(out.status).json(out.body);
}

/**
 * Serves a subgraph. Every GraphQL request — queries, mutations, `_entities`, `_service` — must carry a
 * context token signed by the gateway for this subgraph's audience; anything else gets 401 before
 * GraphQL runs. Resolvers read the verified context from AsyncLocalStorage.
 */
export async function startSubgraphServer(options: SubgraphServerOptions): Promise<RunningService> {
  const log = logger(`subgraph.${options.name}`);
  const app = express();
  app.disable('x-powered-by');
  const httpServer = createServer(app);
  const apollo = createApollo(options, httpServer);
  await apollo.start();

  addProbes(app, options);
  const verifyContextFor = contextVerifier(options, log);
  const verifyContext = verifyContextFor(options.name);
  const verifyHookContext = verifyContextFor(hookAudience(options.name));
  app.post('/internal/:name', express.json({ limit: '16kb' }), verifyContext, internalCallHandler(options, log));
  const hook = hookHandler(options, log);
  app.get('/hooks/{*path}', verifyHookContext, hook);
  app.post('/hooks/{*path}', express.raw({ type: () => true, limit: HOOK_MAX_BYTES }), verifyHookContext, hook);
  app.use(
    '/graphql',
    express.json({ limit: '1mb' }),
    verifyContext,
    expressMiddleware(apollo, { context: async () => options.contextValue }),
  );
  const ws = startSubgraphWs({
    name: options.name,
    schema: options.schema,
    httpServer,
    contextPublicKey: options.contextPublicKey,
    contextValue: options.contextValue,
    production: options.production,
  });

  const port = await listen(httpServer, options.port, options.host);
  log.info({ port }, 'subgraph listening');
  return {
    name: options.name,
    port,
    url: urlFor(options.host, port),
    async stop() {
      await ws.dispose();
      await apollo.stop();
      await closeServer(httpServer, options.shutdownTimeoutMs);
      await options.onStop?.();
    },
  };
}
