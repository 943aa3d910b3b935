import { join } from 'node:path';
import { Client } from 'pg';
import type { Config } from '../config';
import { startEmbeddedDatabase } from './embedded';
import { isEmbedded } from './lock';
import { logger } from '../log';

/** Where the platform's data lives: real PostgreSQL when DATABASE_URL is set, embedded PGlite otherwise. */
export interface DatabaseHandle {
  url: string;
  /** PGlite: in this process, or served by `npm run start:db` at DATABASE_URL. */
  embedded: boolean;
  poolSize: number;
  stop(): Promise<void>;
}

/** How long a service waits at start for a database that is not up yet (started alongside it). */
const DATABASE_WAIT_MS = 30_000;
const log = logger('db');

/** Connects, retrying while the server refuses or is still starting (services started with it). */
async function connectWithRetry(url: string, waitMs: number): Promise<Client> {
  const deadline = Date.now() + waitMs;
  let warned = false;
  for (;;) {
    const client = new Client({
      connectionString: url,
      application_name: 'nexus-probe',
      connectionTimeoutMillis: 5_000,
    });
    try {
      await client.connect();
      if (warned) log.info({ database: new URL(url).host }, 'database reachable');
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      const code = (err as NodeJS.ErrnoException).code;
      const transient =
        code === 'ECONNREFUSED' ||
        code === 'ECONNRESET' ||
        code === '57P03' /* starting up */ ||
        /timeout/i.test(String((err as Error).message));
      if (!transient || Date.now() > deadline) throw err;
      if (!warned) log.warn({ database: new URL(url).host, code }, 'database not reachable yet: waiting for it');
      warned = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** PGlite runs one transaction at a time: a small pool per service is plenty. */
const EMBEDDED_POOL_SIZE = 4;

export async function openDatabase(config: Config): Promise<DatabaseHandle> {
  const url = config.database.DATABASE_URL;
  if (url) {
    const client = await connectWithRetry(url, DATABASE_WAIT_MS);
    const embedded = await isEmbedded(client).finally(() => client.end());
    const poolSize = embedded
      ? Math.min(config.database.DB_POOL_SIZE, EMBEDDED_POOL_SIZE)
      : config.database.DB_POOL_SIZE;
    return { url, embedded, poolSize, stop: async () => {} };
  }
  const db = await startEmbeddedDatabase({ dataDir: join(config.database.NEXUS_DATA_DIR, 'pgdata') });
  return {
    url: db.url,
    embedded: true,
    poolSize: Math.min(config.database.DB_POOL_SIZE, EMBEDDED_POOL_SIZE),
    stop: db.stop,
  };
}
