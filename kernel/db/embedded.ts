import { linkSync, mkdirSync, openAsBlob, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { logger } from '../log';
import { EmbeddedServer } from './embedded-server';
import { CLEAR_LEASES_SQL, runsNode } from './lock';

/**
 * Embedded PostgreSQL (PGlite, with pgvector) served on a loopback port so the ordinary `pg` driver and
 * TypeORM's postgres driver use it exactly like a real server.
 */
export interface EmbeddedDatabase {
  url: string;
  /** Writes the whole database to `file` (uncompressed tar), e.g. a migrated template for `loadFrom`. */
  dumpTo(file: string): Promise<void>;
  stop(): Promise<void>;
}

export interface EmbeddedDatabaseOptions {
  /** Files on disk (persisted); in memory when unset. */
  dataDir?: string;
  port?: number;
  idleInTransactionMs?: number;
  /** An in-memory database starting as a copy of a dump written by `dumpTo`. */
  loadFrom?: string;
}

const log = logger('db.embedded');

/**
 * One process at a time may open a data directory (two PGlite instances on the same files corrupt them):
 * a lock file names the holder's pid. A lock whose process is gone (or is no longer Node.js: the pid was
 * reused) is stale and taken over.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'nexus.pid');
  const mine = String(process.pid);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeFileSync(file, mine, { flag: 'wx' });
      return () => {
        try {
          if (readFileSync(file, 'utf8') === mine) unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readFileSync(file, 'utf8');
    if (holder === mine || runsNode(Number(holder))) {
      throw new Error(
        `The embedded database in ${dataDir} is open in process ${holder} (npm start or npm run start:db). ` +
          'Stop it, or share it: run `npm run start:db` and give every service its DATABASE_URL.',
      );
    }
    // Move the stale file aside (atomic: of two processes doing this, one succeeds); if what was moved is
    // not the stale lock read above, another process has just taken the directory: put its lock back.
    const aside = `${file}.${mine}`;
    try {
      renameSync(file, aside);
    } catch {
      continue;
    }
    if (readFileSync(aside, 'utf8') !== holder) {
      try {
        linkSync(aside, file);
      } catch {
        // a third process holds it now
      }
    }
    unlinkSync(aside);
  }
  throw new Error(`Could not lock ${dataDir}: other processes keep taking it`);
}

export async function startEmbeddedDatabase(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const started = Date.now();
  const release = options.dataDir ? lockDataDir(options.dataDir) : () => undefined;
  let db: PGlite | undefined;
  try {
    const loadDataDir = options.loadFrom ? await openAsBlob(options.loadFrom) : undefined;
    db = await PGlite.create({ dataDir: options.dataDir, loadDataDir, extensions: { vector } });
    await db.exec(CLEAR_LEASES_SQL);
    const server = new EmbeddedServer({
      db,
      host: '127.0.0.1',
      port: options.port ?? 0,
      idleInTransactionMs: options.idleInTransactionMs,
    });
    const port = await server.start();
    log.info({ dataDir: options.dataDir ?? 'memory', port, ms: Date.now() - started }, 'embedded database ready');
    const opened = db;
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      async dumpTo(file) {
        const dump = await opened.dumpDataDir('none');
        writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
      },
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
