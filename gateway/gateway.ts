import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import type { PubSub } from '../kernel/pubsub';
import { logger } from '../kernel/log';
import { closeServer, listen, urlFor, type RunningService } from '../kernel/http/service';
import { LoadedSupergraph, createApolloGateway, createApolloServer } from './apollo';
import type { AuthSettings } from './authenticate';
import { createGatewayServices } from './gateway-services';
import { clientAddressOf, createHttpPipeline, mountRoutes } from './http/pipeline';
import type { QueryLimits } from './limits';
import type { SubscriptionLimits } from './subscriptions/subscription-limits';
import { startLiveSubscriptions } from './subscriptions/live';

export interface GatewayOptions {
  host: string;
  port: number;
  production: boolean;
  supergraphSdl: string;
  /** Overrides of the subgraph URLs written in the supergraph, by subgraph name. */
  subgraphUrls: Partial<Record<string, string>>;
  contextPrivateKey: KeyObject;
  /** The ledger's checkpoint verifier key, served at /.well-known/nexus-ledger-key (absent: 404). */
  ledgerVerifierKey?: string;
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

/**
 * The public endpoint: authenticates, limits, signs context per subgraph and plans federated queries. Put
 * together from the gateway's services (gateway-services.ts), Apollo Server and its plugins (apollo.ts,
 * plugins/), the HTTP pipeline (http/) and GraphQL over WebSocket (subscriptions/live.ts).
 */
export async function startGateway(options: GatewayOptions): Promise<RunningService> {
  const supergraph = new LoadedSupergraph(options.supergraphSdl);
  const services = createGatewayServices(options, () => supergraph.policies);
  const gateway = createApolloGateway(options, services.subgraphUrls, services.admission);
  supergraph.watch(gateway);
  const { app, httpServer, cors } = createHttpPipeline(options);
  const apollo = createApolloServer(gateway, httpServer, options, services.admission);
  await apollo.start();
  // Identity's address is known once the supergraph is loaded.
  await services.revocations.start();
  const live = startLiveSubscriptions({
    options,
    services,
    supergraph,
    apollo,
    httpServer,
    clientAddress: clientAddressOf(app),
    allowUpgrade: (req) => cors.allowsUpgrade(req),
  });
  mountRoutes(app, options, services, apollo);

  const port = await listen(httpServer, options.port, options.host);
  log.info({ port }, 'gateway listening');
  return {
    name: 'gateway',
    port,
    url: urlFor(options.host, port),
    stats: () => live.stats(),
    async stop() {
      services.revocations.close();
      await live.stop();
      services.closeCaches();
      await apollo.stop();
      // After the last request has finished: nothing it counted is lost.
      await services.usage.close();
      await closeServer(httpServer, options.shutdownTimeoutMs);
    },
  };
}
