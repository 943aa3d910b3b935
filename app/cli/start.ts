import 'reflect-metadata';
import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '../../kernel/config';
import { mailboxDir } from '../../kernel/mail';
import { logger, setLogLevel } from '../../kernel/log';
import { startPlatform } from '../platform';
import { RedisUnreachableError } from '../../kernel/redis-probe';
import { SUBGRAPHS, isSubgraphName, type ServiceName } from '../../kernel/services';
import { seedDemo } from './seed';
import { stopOnSignals } from './lifecycle';

/**
 * `start all` (default): every subgraph and the gateway in this process, demo tenant seeded.
 * `start <service>[,<service>…]`: those services only (set DATABASE_URL, and the gateway's *_URL variables).
 */
async function main(): Promise<void> {
  const started = Date.now();
  const target = process.argv[2] ?? 'all';
  const requested = target === 'all' ? [] : target.split(',').map((s) => s.trim());
  const unknown = requested.filter((s) => s !== 'gateway' && !isSubgraphName(s));
  if (unknown.length > 0) {
    throw new Error(
      `Unknown service "${unknown.join(', ')}". Use all, gateway, one of ${SUBGRAPHS.join(', ')}, or a comma-separated list`,
    );
  }
  const config = loadConfig();
  setLogLevel(config.log.LOG_LEVEL);
  const log = logger('start');
  const lifecycle = stopOnSignals({ log, forceAfterMs: config.server.SHUTDOWN_TIMEOUT_MS + 5000 });
  const services: ServiceName[] = target === 'all' ? [...SUBGRAPHS, 'gateway'] : (requested as ServiceName[]);
  const platform = await startPlatform({ config, services });
  lifecycle.started(() => platform.stop());
  let seeded: string | undefined;
  if (target === 'all' && config.seed.SEED_DEMO && platform.gatewayUrl) {
    seeded = await seedDemo(platform.gatewayUrl, platform.database.url, {
      email: config.seed.DEMO_EMAIL,
      password: config.seed.DEMO_PASSWORD,
      tenantName: 'Demo',
    });
  }
  const ms = Date.now() - started;
  log.info({ ms, services, rssMb: Math.round(process.memoryUsage().rss / 1048576) }, 'started');
  const lines = [
    '',
    `Nexus Platform is up (${(ms / 1000).toFixed(1)} s${platform.database.url ? `, ${databaseLabel(platform.database.embedded, config.database.DATABASE_URL)}` : ''})`,
    ...platform.services.map((s) => `  ${s.name.padEnd(13)} ${s.url}`),
  ];
  if (seeded)
    lines.push('', `Demo tenant "Demo" (${seeded}): ${config.seed.DEMO_EMAIL} / ${config.seed.DEMO_PASSWORD}`);
  if (services.includes('identity') && !config.mail.SMTP_URL) {
    lines.push(`Mail is not sent (no SMTP_URL): read it in ${resolve(mailboxDir(config.database.NEXUS_DATA_DIR))}`);
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

function databaseLabel(embedded: boolean, sharedUrl: string | undefined): string {
  if (!embedded) return 'PostgreSQL';
  if (!sharedUrl) return 'embedded database';
  const url = new URL(sharedUrl);
  return `embedded database at ${url.host} (npm run start:db)`;
}

main().catch((err) => {
  if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
  else {
    logger('start').error({ err }, err instanceof RedisUnreachableError ? err.message : 'failed to start');
    // A dependency that is down needs no stack trace; anything else does.
    const detail =
      err instanceof RedisUnreachableError
        ? err.message
        : err instanceof Error
          ? (err.stack ?? err.message)
          : String(err);
    process.stderr.write(`Failed to start: ${detail}\n`);
  }
  process.exit(1);
});
