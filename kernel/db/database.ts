import { join } from 'node:path';
import { Client } from 'pg';
import type { Config } from '../config';
import { startEmbeddedDatabase } from './embedded';
import { isEmbedded } from './lock';

/** Where the platform's data lives: real PostgreSQL when DATABASE_URL is set, embedded PGlite otherwise. */
export interface DatabaseHandle {
  url: string;
  /** PGlite: in this process, or served by `npm run start:db` at DATABASE_URL. */
  embedded: boolean;
  poolSize: number;
  stop(): Promise<void>;
}

/** PGlite runs one transaction at a time: a small pool per service is plenty. */
const EMBEDDED_POOL_SIZE = 4;

export async function openDatabase(config: Config): Promise<DatabaseHandle> {
  const url = config.database.DATABASE_URL;
  if (url) {
    const client = new Client({ connectionString: url, application_name: 'nexus-probe' });
    await client.connect();
    const embedded = await isEmbedded(client).finally(() => client.end());
    const poolSize = embedded ? Math.min(config.database.DB_POOL_SIZE, EMBEDDED_POOL_SIZE) : config.database.DB_POOL_SIZE;
    return { url, embedded, poolSize, stop: async () => {} };
  }
  const db = await startEmbeddedDatabase({ dataDir: join(config.database.NEXUS_DATA_DIR, 'pgdata') });
  return { url: db.url, embedded: true, poolSize: Math.min(config.database.DB_POOL_SIZE, EMBEDDED_POOL_SIZE), stop: db.stop };
}
