import type { EntityManager } from 'typeorm';

/**
 * Deletes every row of one tenant from a subgraph's schema: each table with a `tenant_id` column,
 * referencing tables before the tables they reference. Runs on the system path (schema owner).
 */
export async function purgeTenantRows(
  em: EntityManager,
  schema: string,
  tenantId: string,
): Promise<Record<string, number>> {
  const tables: { name: string }[] = await em.query(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind = 'r'
        AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)`,
    [schema],
  );
  const edges: { child: string; parent: string }[] = await em.query(
    `SELECT ch.relname AS child, pa.relname AS parent FROM pg_constraint k
       JOIN pg_class ch ON ch.oid = k.conrelid JOIN pg_class pa ON pa.oid = k.confrelid
       JOIN pg_namespace n ON n.oid = k.connamespace
      WHERE k.contype = 'f' AND n.nspname = $1 AND k.conrelid <> k.confrelid`,
    [schema],
  );
  // Children first: a table goes once nothing left references it.
  const left = new Set(tables.map((t) => t.name));
  const order: string[] = [];
  while (left.size) {
    const next = [...left].find((t) => !edges.some((e) => e.parent === t && left.has(e.child)));
    const pick = next ?? [...left][0]; // a cycle: ON DELETE rules decide
    order.push(pick);
    left.delete(pick);
  }
  const deleted: Record<string, number> = {};
  for (const table of order) {
    const result = await em.query(`DELETE FROM "${schema}"."${table}" WHERE tenant_id = $1`, [tenantId]);
    deleted[table] = Array.isArray(result) && typeof result[1] === 'number' ? result[1] : 0;
  }
  return deleted;
}
