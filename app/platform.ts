import type { KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import { SUBGRAPH_DEFINITIONS } from '../subgraphs';
import { readSupergraph, startGateway, type GatewayOptions } from '../gateway/gateway';
import { subscriptionLimitsFrom } from '../gateway/subscriptions/subscription-limits';
import { portOf, subgraphUrlOverride, type Config } from '../kernel/config';
import { openDatabase, type DatabaseHandle } from '../kernel/db/database';
import { verifierKey } from '../kernel/ledger-key';
import { PostgresEventBus } from '../kernel/event-bus';
import type { EventBus } from '../kernel/events';
import { RedisStreamsEventBus } from '../kernel/redis-event-bus';
import { waitForRedis } from '../kernel/redis-probe';
import { createPubSub, type PubSub } from '../kernel/pubsub';
import type { RunningService } from '../kernel/http/service';
import { loadKeys, type PlatformKeys } from '../kernel/keys';
import { logger, setLogLevel } from '../kernel/log';
import { migrateAll, startSubgraph } from '../kernel/runtime';
import { SUBGRAPHS, type ServiceName, type SubgraphName } from '../kernel/services';

export interface PlatformOptions {
  config: Config;
  services: ServiceName[];
  /** Supplied by tests; otherwise from config (DATABASE_URL or embedded under NEXUS_DATA_DIR). */
  database?: DatabaseHandle;
  keys?: PlatformKeys;
  /** Supplied by tests that share one pub/sub between platforms; otherwise memory or Redis (REDIS_URL). */
  pubsub?: PubSub;
}

export interface Platform {
  gatewayUrl?: string;
  services: RunningService[];
  database: DatabaseHandle;
  keys: PlatformKeys;
  pubsub: PubSub;
  stop(): Promise<void>;
}

const log = logger('platform');

/** The gateway alone holds no data: it needs neither the database nor the event bus. */
async function platformDatabase(options: PlatformOptions, subgraphs: SubgraphName[]): Promise<DatabaseHandle> {
  return (
    options.database ??
    (subgraphs.length > 0
      ? await openDatabase(options.config)
      : { url: '', embedded: false, poolSize: 0, stop: async () => {} })
  );
}

/** Events between subgraphs: Redis Streams with REDIS_URL, otherwise the log table in PostgreSQL. */
function platformEventBus(config: Config, subgraphs: SubgraphName[], database: DatabaseHandle): EventBus | null {
  return subgraphs.length === 0
    ? null
    : config.realtime.REDIS_URL
      ? new RedisStreamsEventBus(config.realtime.REDIS_URL, { prefix: config.realtime.REDIS_PREFIX })
      : new PostgresEventBus(database.url);
}

/** Stops the services started so far in reverse order, then the pub/sub (if the platform made it), bus, database. */
function platformStopper(
  options: PlatformOptions,
  services: RunningService[],
  pubsub: PubSub,
  bus: EventBus | null,
  database: DatabaseHandle,
): () => Promise<void> {
  return async () => {
    for (const service of [...services].reverse()) {
      const t0 = Date.now();
      await service.stop().catch((err) => log.error({ err, service: service.name }, 'stop failed'));
      log.info({ service: service.name, ms: Date.now() - t0 }, 'stopped');
    }
    if (!options.pubsub) await pubsub.close().catch(() => undefined);
    await bus?.close().catch((err) => log.error({ err }, 'event bus close failed'));
    const t0 = Date.now();
    await database.stop();
    log.info({ ms: Date.now() - t0 }, 'database closed');
  };
}

/** Subgraphs running elsewhere: *_URL, else this machine at *_PORT (the supergraph's URL when that is 0). */
function configuredSubgraphUrls(config: Config): Partial<Record<string, string>> {
  const urls: Partial<Record<string, string>> = {};
  for (const name of SUBGRAPHS) {
    const port = portOf(config, name);
    const url = subgraphUrlOverride(config, name) ?? (port !== 0 ? `http://127.0.0.1:${port}/graphql` : undefined);
    if (url) urls[name] = url;
  }
  return urls;
}

/** The gateway's options from config, routing to `subgraphUrls`. */
function gatewayOptions(
  options: PlatformOptions,
  subgraphs: SubgraphName[],
  keys: PlatformKeys,
  contextPrivateKey: KeyObject,
  subgraphUrls: Partial<Record<string, string>>,
  pubsub: PubSub,
): GatewayOptions {
  const { config } = options;
  return {
    host: config.server.HOST,
    port: portOf(config, 'gateway'),
    production: config.server.NODE_ENV === 'production',
    supergraphSdl: readSupergraph(resolve(config.gateway.SUPERGRAPH_PATH)),
    subgraphUrls,
    contextPrivateKey,
    ledgerVerifierKey: keys.ledger
      ? verifierKey({ name: config.ledger.NEXUS_LEDGER_KEY_NAME, publicKey: keys.ledger.publicKey })
      : undefined,
    contextTokenTtlSeconds: config.auth.CONTEXT_TOKEN_TTL_SECONDS,
    auth: {
      accessPublicKey: keys.access.publicKey,
      accessKid: keys.access.kid,
      issuer: config.auth.JWT_ISSUER,
      audience: config.auth.JWT_AUDIENCE,
    },
    limits: {
      maxDepth: config.gateway.LIMIT_MAX_DEPTH,
      maxAliases: config.gateway.LIMIT_MAX_ALIASES,
      maxCost: config.gateway.LIMIT_MAX_COST,
    },
    subscriptionLimits: subscriptionLimitsFrom(config.subscriptions),
    maxBodyBytes: config.gateway.LIMIT_MAX_BODY_BYTES,
    shutdownTimeoutMs: config.server.SHUTDOWN_TIMEOUT_MS,
    pubsub,
    accessTokenTtlSeconds: config.auth.ACCESS_TOKEN_TTL_SECONDS,
    revocationPollMs: config.gateway.REVOCATION_POLL_MS,
    // Identity's announcements reach this gateway when identity runs here, or over Redis, or a shared pub/sub.
    revocationsAnnounced:
      Boolean(config.realtime.REDIS_URL) || subgraphs.includes('identity') || options.pubsub !== undefined,
    subgraphTimeoutMs: config.gateway.SUBGRAPH_TIMEOUT_MS,
    trustProxy: config.gateway.TRUST_PROXY,
    apiKeyRatePerMinute: config.gateway.API_KEY_RATE_PER_MINUTE,
    usageFlushMs: config.gateway.USAGE_FLUSH_MS,
    corsOrigins: [new URL(config.mail.APP_URL).origin, ...config.gateway.CORS_ORIGINS],
  };
}

/**
 * Starts the requested services in this process: the database (embedded if needed), migrations, the
 * subgraphs, then the gateway. `stop()` shuts down in reverse order.
 */
export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const { config } = options;
  setLogLevel(config.log.LOG_LEVEL);
  const keys = options.keys ?? loadKeys(config);
  // Redis configured but down would leave every service waiting on it for ever: find out first, and fail.
  if (config.realtime.REDIS_URL) await waitForRedis(config.realtime.REDIS_URL, config.realtime.REDIS_WAIT_MS);
  const subgraphs = options.services.filter((s): s is SubgraphName => s !== 'gateway');
  const database = await platformDatabase(options, subgraphs);
  const services: RunningService[] = [];
  const bus = platformEventBus(config, subgraphs, database);
  const pubsub = options.pubsub ?? createPubSub(config.realtime.REDIS_URL, config.realtime.REDIS_PREFIX);
  const stop = platformStopper(options, services, pubsub, bus, database);
  try {
    if (config.database.MIGRATE_ON_START && subgraphs.length > 0) {
      await migrateAll(
        database.url,
        subgraphs.map((s) => SUBGRAPH_DEFINITIONS[s]),
      );
    }
    const urls = configuredSubgraphUrls(config);
    for (const name of subgraphs) {
      const running = await startSubgraph(SUBGRAPH_DEFINITIONS[name], {
        config,
        keys,
        databaseUrl: database.url,
        poolSize: database.poolSize,
        bus: bus!,
        pubsub,
        host: config.server.HOST,
        port: portOf(config, name),
      });
      services.push(running);
      urls[name] = running.url;
    }
    let gatewayUrl: string | undefined;
    if (options.services.includes('gateway')) {
      if (!keys.context.privateKey) throw new Error('The gateway needs NEXUS_CONTEXT_PRIVATE_KEY');
      const gateway = await startGateway(
        gatewayOptions(options, subgraphs, keys, keys.context.privateKey, urls, pubsub),
      );
      services.push(gateway);
      gatewayUrl = gateway.url;
    }
    return { gatewayUrl, services, database, keys, pubsub, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
