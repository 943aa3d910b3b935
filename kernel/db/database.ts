import { join } from 'node:path';
import type { Config } from '../config';
import { startEmbeddedDatabase } from './embedded';

/** Where the platform's data lives: real PostgreSQL when DATABASE_URL is set, embedded PGlite otherwise. */
export interface DatabaseHandle {
  url: string;
  embedded: boolean;
  poolSize: number;
  stop(): Promise<void>;
}

export async function openDatabase(config: Config): Promise<DatabaseHandle> {
  if (config.database.DATABASE_URL) {
    return { url: config.database.DATABASE_URL, embedded: false, poolSize: config.database.DB_POOL_SIZE, stop: async () => {} };
  }
  const embedded = await startEmbeddedDatabase({ dataDir: join(config.database.NEXUS_DATA_DIR, 'pgdata') });
  // PGlite runs one transaction at a time: a small pool per service is plenty.
  return { url: embedded.url, embedded: true, poolSize: Math.min(config.database.DB_POOL_SIZE, 4), stop: embedded.stop };
}
