import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { logger } from '../log';
import { EmbeddedServer } from './embedded-server';

/**
 * Embedded PostgreSQL (PGlite, with pgvector) served on a loopback port so the ordinary `pg` driver and
 * TypeORM's postgres driver use it exactly like a real server.
 */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const log = logger('db.embedded');

/**
 * One process at a time may open a data directory (two PGlite instances on the same files corrupt them):
 * a lock file names the holder's pid; a holder that is gone leaves a stale lock, which is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'nexus.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => {
        try {
          if (readFileSync(file, 'utf8') === String(process.pid)) unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(file, 'utf8'));
      if (holder && holder !== process.pid && alive(holder)) {
        throw new Error(
          `The embedded database in ${dataDir} is open in process ${holder} (npm start or npm run start:db). ` +
            'Stop it, or share it: run `npm run start:db` and give every service its DATABASE_URL.',
        );
      }
      unlinkSync(file); // stale: its process is gone
    }
  }
  throw new Error(`Could not lock ${dataDir}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function startEmbeddedDatabase(options: { dataDir?: string; port?: number; idleInTransactionMs?: number }): Promise<EmbeddedDatabase> {
  const started = Date.now();
  const release = options.dataDir ? lockDataDir(options.dataDir) : () => undefined;
  let db: PGlite | undefined;
  try {
    db = await PGlite.create({ dataDir: options.dataDir, extensions: { vector } });
    const server = new EmbeddedServer({ db, host: '127.0.0.1', port: options.port ?? 0, idleInTransactionMs: options.idleInTransactionMs });
    const port = await server.start();
    log.info({ dataDir: options.dataDir ?? 'memory', port, ms: Date.now() - started }, 'embedded database ready');
    const opened = db;
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      async stop() {
        await server.stop();
        await opened.close();
        release();
      },
    };
  } catch (err) {
    await db?.close().catch(() => undefined);
    release();
    throw err;
  }
}
