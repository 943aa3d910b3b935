import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../kernel/config';
import { startEmbeddedDatabase } from '../../kernel/db/embedded';
import { logger, setLogLevel } from '../../kernel/log';
import { stopOnSignals } from './lifecycle';

/**
 * `npm run start:db`: serves the embedded database (PGlite + pgvector, persisted under NEXUS_DATA_DIR) on
 * EMBEDDED_DB_PORT so services started one by one can share it through DATABASE_URL.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  setLogLevel(config.log.LOG_LEVEL);
  const lifecycle = stopOnSignals({ log: logger('start-db'), forceAfterMs: config.server.SHUTDOWN_TIMEOUT_MS + 5000 });
  const db = await startEmbeddedDatabase({
    dataDir: join(config.database.NEXUS_DATA_DIR, 'pgdata'),
    port: config.database.EMBEDDED_DB_PORT,
  });
  process.stdout.write(`Embedded database ready. For the services:\n  DATABASE_URL=${db.url}\n`);
  lifecycle.started(db.stop);
}

main().catch((err) => {
  process.stderr.write(
    `${err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
