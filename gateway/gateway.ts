import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { KeyObject } from 'node:crypto';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import type { GraphQLSchema } from 'graphql';
import { forbidden, makeFormatError, unauthenticated } from '../kernel/errors';
import { ApiKeyAuthenticator } from './api-keys';
import { InternalClient } from './internal-client';
import { TenantStatusResolver } from './tenant-status';
import { HostTenantResolver } from './host-tenant';
import { UsageMeter } from './usage';
import { TenantAdmission, admissionPlugin } from './admission';
import { textInputPlugin } from './text-input';
import { PermissionResolver, RIGHTS_CACHE_MS } from './permissions';
import { RevocationFeed } from './revocations';
import type { PubSub } from '../kernel/pubsub';
import { CONNECTION_CLOSED_TOPIC, SUBSCRIPTION_ACCESS_CHANGED_TOPIC } from '../kernel/topics';
import { logger } from '../kernel/log';
import { closeServer, listen, urlFor, type RunningService } from '../kernel/http/service';
import { authenticate, type AuthSettings } from './authenticate';
import { accessLogPlugin } from './access-log';
import { limitsPlugin, type QueryLimits } from './limits';
import { SignedDataSource, mutationOutcomePlugin, type GatewayContext } from './signed-data-source';
import { startGatewayWs } from './subscriptions/gateway-ws';
import { SubscriptionHub, type FederatedExecutor } from './subscriptions/hub';
import { subscriptionRoutes, type SubscriptionRoute } from './subscriptions/routing';
import { AccessGuard } from './subscriptions/sessions';
import type { SubscriptionLimits } from './subscriptions/subscription-limits';
import { UpstreamPool } from './subscriptions/upstream';
import { hooksProxy } from './hooks-proxy';
import { CorsPolicy, corsMiddleware } from './cors/cors';

export interface GatewayOptions {
  host: string;
  port: number;
  production: boolean;
  supergraphSdl: string;
  /** Overrides of the subgraph URLs written in the supergraph, by subgraph name. */
  subgraphUrls: Partial<Record<string, string>>;
  contextPrivateKey: KeyObject;
  contextTokenTtlSeconds: number;
  auth: AuthSettings;
  limits: QueryLimits;
  /** What each WebSocket, user, tenant and client address may hold in live subscriptions. */
  subscriptionLimits: SubscriptionLimits;
  maxBodyBytes: number;
  shutdownTimeoutMs: number;
  /** Notifications from the subgraphs (revoked sessions, suspended tenants). */
  pubsub: PubSub;
  accessTokenTtlSeconds: number;
  /** How often the list of revoked sessions and API keys is read from identity (default 2 s): see gateway/revocations.ts. */
  revocationPollMs?: number;
  /**
   * Whether identity's announcements reach this gateway (identity in this process, or Redis between
   * processes); only then is the revocation list trusted while identity cannot be read. Default false.
   */
  revocationsAnnounced?: boolean;
  /** Revocations read per call to identity (default and at most 2,000). */
  revocationPageSize?: number;
  /** How long a subgraph may take to answer one fetch before it counts as unavailable (default 30 s). */
  subgraphTimeoutMs?: number;
  /** express "trust proxy": which proxies' X-Forwarded-For gives the client address. */
  trustProxy?: boolean | number | string;
  /** Requests per minute each API key may make (per gateway instance). */
  apiKeyRatePerMinute?: number;
  /** How often counted usage is sent to tenancy (default 5 s). */
  usageFlushMs?: number;
  /** Browser origins allowed to call the API (`*`: any); none besides the gateway's own when empty. */
  corsOrigins?: readonly string[];
}

const log = logger('gateway');

export function readSupergraph(path: string): string {
  return readFileSync(path, 'utf8');
}

/** The public endpoint: authenticates, limits, signs context per subgraph and plans federated queries. */
export async function startGateway(options: GatewayOptions): Promise<RunningService> {
  const subgraphUrls = new Map<string, string>();
  const guard = new AccessGuard(options.pubsub, options.accessTokenTtlSeconds * 1000);
  const identity = new InternalClient('identity', () => subgraphUrls.get('identity'), options.contextPrivateKey);
  const tenancy = new InternalClient('tenancy', () => subgraphUrls.get('tenancy'), options.contextPrivateKey);
  const tenantStatus = new TenantStatusResolver(tenancy, guard, options.pubsub);
  const hosts = new HostTenantResolver(tenancy, options.pubsub);
  const usage = new UsageMeter(tenancy, options.usageFlushMs ?? 5_000, options.pubsub);
  const admission = new TenantAdmission(tenantStatus, usage);
  const apiKeys = new ApiKeyAuthenticator(identity, options.apiKeyRatePerMinute ?? 600, options.pubsub);
  const permissions = new PermissionResolver(identity, options.pubsub);
  const revocations = new RevocationFeed(identity, guard, options.pubsub, {
    pollMs: options.revocationPollMs ?? 2_000,
    accessTokenTtlMs: options.accessTokenTtlSeconds * 1000,
    announced: options.revocationsAnnounced ?? false,
    trustAnnouncementsMs: RIGHTS_CACHE_MS,
    pageSize: options.revocationPageSize,
    onApiKeyRevoked: (prefix) => apiKeys.forget(prefix),
  });
  const gateway = new ApolloGateway({
    supergraphSdl: options.supergraphSdl,
    buildService: ({ name, url }) => {
      const target = options.subgraphUrls[name] ?? url!;
      subgraphUrls.set(name, target);
      return new SignedDataSource(
        name,
        target,
        options.contextPrivateKey,
        options.contextTokenTtlSeconds,
        options.auth,
        admission,
        options.subgraphTimeoutMs ?? 30_000,
      );
    },
  });
  let apiSchema: GraphQLSchema | undefined;
  let routes = new Map<string, SubscriptionRoute>();
  gateway.onSchemaLoadOrUpdate(({ apiSchema: schema, coreSupergraphSdl }) => {
    apiSchema = schema;
    routes = subscriptionRoutes(coreSupergraphSdl, schema);
  });
  const auth = { ...options.auth, apiKeys };
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy ?? false);
  const cors = new CorsPolicy(options.corsOrigins ?? []);
  app.use(corsMiddleware(cors));
  const httpServer = createServer(app);
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    introspection: !options.production,
    hideSchemaDetailsFromClientErrors: options.production,
    includeStacktraceInErrorResponses: !options.production,
    allowBatchedHttpRequests: false,
    stopOnTerminationSignals: false,
    csrfPrevention: true,
    formatError: makeFormatError(options.production),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      textInputPlugin,
      limitsPlugin(options.limits),
      admissionPlugin(admission),
      mutationOutcomePlugin,
      accessLogPlugin,
    ],
  });
  await apollo.start();
  // Identity's address is known once the supergraph is loaded.
  await revocations.start();

  const execute: FederatedExecutor = async (query, variables, ctx) => {
    const response = await apollo.executeOperation({ query, variables }, { contextValue: { ctx } });
    return response.body.kind === 'single'
      ? response.body.singleResult
      : { errors: [{ message: 'Incremental delivery is not supported' }] };
  };
  const upstream = new UpstreamPool(subgraphUrls, options.contextPrivateKey);
  const hub = new SubscriptionHub(upstream, execute);
  const stopAccessWatch = options.pubsub.listen(SUBSCRIPTION_ACCESS_CHANGED_TOPIC, ({ tenantId, userIds }) => {
    const users = userIds ?? null;
    void hub.accessChanged(tenantId, users).catch((err) => log.error({ err }, 'subscription re-admission failed'));
  });
  const ws = startGatewayWs({
    httpServer,
    schema: () => apiSchema,
    routes: () => routes,
    hub,
    execute,
    guard,
    auth,
    limits: options.limits,
    subscriptionLimits: options.subscriptionLimits,
    production: options.production,
    // The address express gives HTTP requests (req.ip, honouring TRUST_PROXY), for the handshake's request.
    clientAddress: (req) =>
      (
        Object.create(app.request, {
          app: { value: app },
          headers: { value: req.headers },
          socket: { value: req.socket },
        }) as express.Request
      ).ip ?? null,
    maxMessageBytes: options.maxBodyBytes,
    allowUpgrade: (req) => cors.allowsUpgrade(req),
    revalidate: async (authenticated, credential) => {
      if (authenticated.sessionId) await revocations.ensureCurrent();
      if (authenticated.tenantId) await tenantStatus.status(authenticated.tenantId);
      if (authenticated.authMethod !== 'api_key') return permissions.refresh(authenticated);
      const now = await apiKeys.authenticate(credential, authenticated.requestId);
      return now === 'rate_limited' ? authenticated : now;
    },
    onClosed: (ctx) => {
      if (!ctx.tenantId || !ctx.userId || !ctx.connectionId) return;
      const closed = { tenantId: ctx.tenantId, userId: ctx.userId, connectionId: ctx.connectionId };
      void options.pubsub
        .publish(CONNECTION_CLOSED_TOPIC, closed)
        .catch((err) => log.warn({ err }, 'could not announce a closed connection'));
    },
  });

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', service: 'gateway' });
  });
  app.get('/ready', async (_req, res) => {
    const checks = await Promise.all(
      [...subgraphUrls.entries()].map(async ([name, url]) => {
        const ok = await fetch(url.replace(/\/graphql$/, '/ready'), { signal: AbortSignal.timeout(2000) })
          .then((r) => r.ok)
          .catch(() => false);
        return [name, ok] as const;
      }),
    );
    // Sessions are refused while the list of revocations cannot be relied on.
    const age = revocations.age();
    const list = { current: revocations.current(), ageMs: age === null ? null : Math.round(age) };
    const ready = checks.every(([, ok]) => ok) && list.current;
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'unavailable', subgraphs: Object.fromEntries(checks), revocations: list });
  });
  app.use(
    hooksProxy(
      (name) => subgraphUrls.get(name),
      options.contextPrivateKey,
      async (req) => {
        // Single sign-on started by e-mail address: the tenant that verified its domain; else the custom domain asked.
        if (typeof req.query.tenant === 'string' && req.query.tenant) return null;
        const email = typeof req.query.email === 'string' ? req.query.email.trim().toLowerCase() : '';
        const domain = email.includes('@') ? email.slice(email.lastIndexOf('@') + 1) : '';
        const tenant = (domain ? await hosts.tenantFor(domain) : null) ?? (await hosts.tenantFor(req.hostname));
        return tenant ? { tenant } : null;
      },
      admission,
    ),
  );
  app.use(
    '/graphql',
    express.json({ limit: options.maxBodyBytes }),
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        let authenticated = await authenticate(req.headers, auth, req.ip ?? null);
        // A verified custom domain names the tenant: for anonymous callers (login pages), and it must
        // agree with the tenant of a token.
        const hostTenant = await hosts.tenantFor(req.hostname);
        if (hostTenant && authenticated.tenantId && authenticated.tenantId !== hostTenant)
          throw forbidden('This domain belongs to another tenant', 403);
        if (hostTenant && !authenticated.tenantId) authenticated = { ...authenticated, tenantId: hostTenant };
        if (authenticated.sessionId) await revocations.ensureCurrent();
        if (guard.isRevoked(authenticated.sessionId)) throw unauthenticated('This session has been signed out', 401);
        const status = authenticated.tenantId ? await tenantStatus.status(authenticated.tenantId) : 'active';
        if (status === 'unknown') throw forbidden('This tenant does not exist', 403);
        const ctx = await permissions.refresh(authenticated);
        if (!ctx) throw forbidden('You are no longer a member of this tenant', 403);
        return { ctx, tenantStatus: status };
      },
    }),
  );
  app.use(
    (
      err: Error & { status?: number; type?: string },
      _req: express.Request,
      res: express.Response,
      next: express.NextFunction,
    ) => {
      if (res.headersSent) return next(err);
      const status = err.status ?? 500;
      const code =
        err.type === 'entity.too.large' ? 'PAYLOAD_TOO_LARGE' : status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR';
      if (status >= 500) log.error({ err }, 'request failed');
      res
        .status(status)
        .json({ errors: [{ message: status < 500 ? err.message : 'Internal server error', extensions: { code } }] });
    },
  );

  const port = await listen(httpServer, options.port, options.host);
  log.info({ port }, 'gateway listening');
  return {
    name: 'gateway',
    port,
    url: urlFor(options.host, port),
    stats: () => ({ ...hub.stats(), ...ws.stats() }),
    async stop() {
      stopAccessWatch();
      revocations.close();
      await ws.dispose();
      await upstream.close();
      guard.close();
      apiKeys.close();
      permissions.close();
      tenantStatus.close();
      hosts.close();
      await apollo.stop();
      // After the last request has finished: nothing it counted is lost.
      await usage.close();
      await closeServer(httpServer, options.shutdownTimeoutMs);
    },
  };
}
