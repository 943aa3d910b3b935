import { Client } from 'pg';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { SUBGRAPHS } from '../kernel/services';

let t: TestPlatform;
let db: Client;
beforeAll(async () => {
  t = await startTestPlatform(['identity', 'tenancy', 'commerce', 'ledger', 'messaging', 'intelligence']);
  db = new Client({ connectionString: t.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await t?.stop();
});

const schemas = [...SUBGRAPHS];

describe('database catalog', () => {
  it('enables and forces row-level security on every table with a tenant_id', async () => {
    const { rows } = await db.query(
      `SELECT n.nspname || '.' || c.relname AS table, c.relrowsecurity, c.relforcerowsecurity,
              (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)::int AS policies
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname = ANY($1)
          AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)`,
      [schemas],
    );
    expect(rows.length).toBeGreaterThanOrEqual(10);
    const unsafe = rows.filter((r) => !r.relrowsecurity || !r.relforcerowsecurity || r.policies === 0);
    expect(unsafe).toEqual([]);
  });

  it('enables and forces row-level security on every account-owned table (user_id without tenant_id)', async () => {
    const { rows } = await db.query(
      `SELECT n.nspname || '.' || c.relname AS table, c.relrowsecurity AND c.relforcerowsecurity AS protected
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname = ANY($1)
          AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped)
          AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)`,
      [schemas],
    );
    expect(rows.map((r) => r.table)).toEqual(
      expect.arrayContaining(['identity.password_history', 'identity.backup_codes']),
    );
    expect(rows.filter((r) => !r.protected)).toEqual([]);
  });

  it('puts tenant_id in the primary key of every tenant-owned table (scale-out ready)', async () => {
    const { rows } = await db.query(
      `SELECT n.nspname || '.' || c.relname AS table
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND a.attnotnull
         JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
        WHERE c.relkind = 'r' AND n.nspname = ANY($1) AND NOT (a.attnum = ANY(i.indkey))`,
      [schemas],
    );
    expect(rows).toEqual([]);
  });

  it('checks tenant policies against the transaction-local tenant setting', async () => {
    const { rows } = await db.query(
      `SELECT n.nspname || '.' || c.relname AS table, pg_get_expr(p.polqual, p.polrelid) AS qual
         FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1) AND p.polcmd <> 'a'`,
      [schemas],
    );
    for (const r of rows) expect(r.qual).toContain("current_setting('app.");
  });

  it('runs the application as a role that is not superuser, cannot bypass RLS and owns nothing', async () => {
    const role = await db.query(`SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = 'nexus_app'`);
    expect(role.rows).toEqual([{ rolsuper: false, rolbypassrls: false, rolcanlogin: false }]);
    const owned = await db.query(
      `SELECT c.relname FROM pg_class c WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = 'nexus_app')`,
    );
    expect(owned.rows).toEqual([]);
  });

  it('does not let the runtime role switch RLS off or read the outbox', async () => {
    await db.query('BEGIN');
    await db.query('SET LOCAL ROLE nexus_app');
    await expect(db.query('ALTER TABLE messaging.messages DISABLE ROW LEVEL SECURITY')).rejects.toThrow(/owner/);
    await db.query('ROLLBACK');
    await db.query('BEGIN');
    await db.query('SET LOCAL ROLE nexus_app');
    await expect(db.query('SELECT * FROM identity.outbox')).rejects.toThrow(/permission denied/);
    await db.query('ROLLBACK');
    await db.query('BEGIN');
    await db.query('SET LOCAL ROLE nexus_app');
    await expect(db.query('SET LOCAL row_security = off')).resolves.toBeDefined();
    await expect(db.query('SELECT count(*) FROM messaging.messages')).rejects.toThrow(/row-level security/);
    await db.query('ROLLBACK');
  });
});
