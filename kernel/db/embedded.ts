import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { logger } from '../log';

/**
 * Embedded PostgreSQL (PGlite, with pgvector) served on a loopback port so the ordinary `pg` driver and
 * TypeORM's postgres driver use it exactly like a real server.
 */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const log = logger('db.embedded');

export async function startEmbeddedDatabase(options: { dataDir?: string; port?: number }): Promise<EmbeddedDatabase> {
  const started = Date.now();
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir: options.dataDir, extensions: { vector } });
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: options.port ?? 0, maxConnections: 128 });
  await server.start();
  const address = (server as unknown as { server: { address(): AddressInfo } }).server.address();
  const url = `postgres://postgres@127.0.0.1:${address.port}/postgres`;
  log.info({ dataDir: options.dataDir ?? 'memory', port: address.port, ms: Date.now() - started }, 'embedded database ready');
  return {
    url,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
