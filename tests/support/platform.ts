import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { loadConfig, type Config } from '../../kernel/config';
import type { DatabaseHandle } from '../../kernel/db/database';
import { startEmbeddedDatabase } from '../../kernel/db/embedded';
import { generateKeyPair, type PlatformKeys } from '../../kernel/keys';
import { startPlatform, type Platform } from '../../app/platform';
import { readSupergraph, startGateway, type GatewayOptions } from '../../gateway/gateway';
import { subscriptionLimitsFrom } from '../../gateway/subscriptions/subscription-limits';
import type { RunningService } from '../../kernel/http/service';
import { SUBGRAPHS, type ServiceName } from '../../kernel/services';
import { callersAt, type Callers } from './client';

/**
 * Boots the whole federation on ephemeral ports against a fresh database: a new database on the
 * PostgreSQL server named by DATABASE_URL (dropped afterwards), or a new in-memory PGlite. Fresh databases
 * start as copies of the run's migrated template (tests/support/global-setup.ts) unless asked `empty`.
 */
export interface TestPlatform extends Callers {
  gatewayUrl: string;
  subgraphUrl(name: string): string;
  platform: Platform;
  keys: PlatformKeys;
  config: Config;
  databaseUrl: string;
  stop(): Promise<void>;
}

export async function freshDatabase(options: { empty?: boolean } = {}): Promise<DatabaseHandle> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const template = options.empty ? undefined : process.env.NEXUS_TEST_TEMPLATE_DUMP;
    const embedded = await startEmbeddedDatabase({ loadFrom: template });
    return { url: embedded.url, embedded: true, poolSize: 4, stop: embedded.stop };
  }
  const name = `nexus_test_${randomBytes(6).toString('hex')}`;
  const template = options.empty ? undefined : process.env.NEXUS_TEST_TEMPLATE_DB;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    embedded: false,
    poolSize: 5,
    async stop() {
      const c = new Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  const ports = Object.fromEntries(
    ['GATEWAY', ...SUBGRAPHS.map((s) => s.toUpperCase())].map((s) => [`${s}_PORT`, '0']),
  );
  return loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    NEXUS_DATA_DIR: mkdtempSync(join(tmpdir(), 'nexus-test-')),
    LOG_LEVEL: 'silent',
    SEED_DEMO: 'false',
    // Tests pose as clients from different addresses through X-Forwarded-For.
    TRUST_PROXY: 'loopback',
    // Test files sign many accounts up from one address; the registration throttle is tested with its own limit.
    REGISTER_ATTEMPTS_PER_IP: '1000',
    ...ports,
    ...overrides,
  });
}

export function testKeys(): PlatformKeys {
  return { access: generateKeyPair(), context: generateKeyPair(), ledger: generateKeyPair() };
}

export async function startTestPlatform(
  services: ServiceName[] = [...SUBGRAPHS, 'gateway'],
  overrides: Record<string, string> = {},
): Promise<TestPlatform> {
  const config = testConfig(overrides);
  const keys = testKeys();
  const database = await freshDatabase();
  const platform = await startPlatform({ config, services, database, keys });
  return {
    gatewayUrl: platform.gatewayUrl!,
    subgraphUrl(name) {
      const svc = platform.services.find((s) => s.name === name);
      if (!svc) throw new Error(`no service ${name}`);
      return svc.url;
    },
    platform,
    keys,
    config,
    databaseUrl: database.url,
    stop: () => platform.stop(),
    ...callersAt(platform.gatewayUrl!, config),
  };
}

/** A further gateway in front of a test platform's subgraphs (production mode, other limits, a late start…). */
export function startExtraGateway(t: TestPlatform, overrides: Partial<GatewayOptions> = {}): Promise<RunningService> {
  return startGateway({
    host: '127.0.0.1',
    port: 0,
    production: false,
    supergraphSdl: readSupergraph('schema/supergraph.graphql'),
    subgraphUrls: Object.fromEntries(SUBGRAPHS.map((s) => [s, t.subgraphUrl(s)])),
    contextPrivateKey: t.keys.context.privateKey!,
    contextTokenTtlSeconds: 30,
    auth: {
      accessPublicKey: t.keys.access.publicKey,
      accessKid: t.keys.access.kid,
      issuer: t.config.auth.JWT_ISSUER,
      audience: t.config.auth.JWT_AUDIENCE,
    },
    limits: { maxDepth: 12, maxAliases: 20, maxCost: 5000 },
    subscriptionLimits: subscriptionLimitsFrom(t.config.subscriptions),
    maxBodyBytes: 100_000,
    shutdownTimeoutMs: 1000,
    pubsub: t.platform.pubsub,
    // The platform's identity announces on the pub/sub this gateway shares (unless another is given).
    revocationsAnnounced: overrides.pubsub === undefined,
    accessTokenTtlSeconds: 900,
    ...overrides,
  });
}
