import type { EntityManager } from 'typeorm';

/** Columns never exported: credentials and secrets stay behind, even hashed. */
const SECRET = /(hash|secret|token|password|totp)/i;
/** Plumbing tables, not the tenant's data. */
const SKIPPED = new Set(['outbox', 'processed_events', 'jobs', 'export_parts']);

/**
 * Every row of one tenant in a subgraph's schema, table by table (each table with a `tenant_id`
 * column), without secret columns. Runs on the system path (schema owner).
 */
export async function exportTenantRows(
  em: EntityManager,
  schema: string,
  tenantId: string,
): Promise<Record<string, Record<string, unknown>[]>> {
  const columns: { table_name: string; column_name: string }[] = await em.query(
    `SELECT c.table_name, c.column_name FROM information_schema.columns c
      WHERE c.table_schema = $1
        AND EXISTS (SELECT 1 FROM information_schema.columns k WHERE k.table_schema = c.table_schema AND k.table_name = c.table_name AND k.column_name = 'tenant_id')
        AND EXISTS (SELECT 1 FROM information_schema.tables t WHERE t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE')
      ORDER BY c.table_name, c.ordinal_position`,
    [schema],
  );
  const byTable = new Map<string, string[]>();
  for (const c of columns) {
    if (SKIPPED.has(c.table_name) || SECRET.test(c.column_name)) continue;
    byTable.set(c.table_name, [...(byTable.get(c.table_name) ?? []), c.column_name]);
  }
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const [table, cols] of byTable) {
    const list = cols.map((c) => `"${c}"`).join(', ');
    out[table] = await em.query(`SELECT ${list} FROM "${schema}"."${table}" WHERE tenant_id = $1`, [tenantId]);
  }
  return out;
}
