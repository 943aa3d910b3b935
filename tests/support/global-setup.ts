import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startEmbeddedDatabase } from '../../kernel/db/embedded';
import { setLogLevel } from '../../kernel/log';
import { migrateAll } from '../../kernel/runtime';
import { SUBGRAPHS } from '../../kernel/services';
import { SUBGRAPH_DEFINITIONS } from '../../subgraphs';

/**
 * Migrates one template database for the whole run, so each test file's fresh database starts as a copy
 * of it instead of migrating again: a dump of the embedded database, or a PostgreSQL template database
 * on the DATABASE_URL server. Tests that need an empty database (migrations themselves, the compose and
 * README recipes) ask `freshDatabase({ empty: true })` or start their own.
 */
export default async function globalSetup(): Promise<void> {
  setLogLevel('silent');
  const definitions = SUBGRAPHS.map((s) => SUBGRAPH_DEFINITIONS[s]);
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const db = await startEmbeddedDatabase({});
    try {
      await migrateAll(db.url, definitions);
      const file = join(tmpdir(), `nexus-template-${process.pid}-${randomBytes(4).toString('hex')}.tar`);
      await db.dumpTo(file);
      process.env.NEXUS_TEST_TEMPLATE_DUMP = file;
    } finally {
      await db.stop();
    }
    return;
  }
  const name = `nexus_template_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  await migrateAll(url.toString(), definitions);
  process.env.NEXUS_TEST_TEMPLATE_DB = name;
}
