import { rmSync } from 'node:fs';
import { Client } from 'pg';

/** Removes the template made by global-setup.ts. */
export default async function globalTeardown(): Promise<void> {
  if (process.env.NEXUS_TEST_TEMPLATE_DUMP) rmSync(process.env.NEXUS_TEST_TEMPLATE_DUMP, { force: true });
  const name = process.env.NEXUS_TEST_TEMPLATE_DB;
  if (name && process.env.DATABASE_URL) {
    const admin = new Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  }
}
