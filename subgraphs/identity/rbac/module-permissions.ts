import type { EntityManager } from 'typeorm';
import type { EventOf } from '../../../kernel/contracts/events';

/** Consumer of tenancy.module_installed: the module's permissions become grantable in the tenant. */
export async function moduleInstalled(event: EventOf<'tenancy.module_installed'>, em: EntityManager): Promise<void> {
  const p = event.payload;
  await em.query(
    `INSERT INTO identity.tenant_module_permissions (tenant_id, module_id, permissions) VALUES ($1, $2, $3)
     ON CONFLICT (tenant_id, module_id) DO UPDATE SET permissions = EXCLUDED.permissions`,
    [p.tenantId, p.moduleId, p.permissions],
  );
}

/** Consumer of tenancy.module_uninstalled: its permissions stop counting, even inside custom roles. */
export async function moduleUninstalled(
  event: EventOf<'tenancy.module_uninstalled'>,
  em: EntityManager,
): Promise<void> {
  const p = event.payload;
  await em.query(`DELETE FROM identity.tenant_module_permissions WHERE tenant_id = $1 AND module_id = $2`, [
    p.tenantId,
    p.moduleId,
  ]);
}

/** Permissions the tenant's installed modules add (run in a transaction scoped to the tenant). */
export async function modulePermissions(em: EntityManager, tenantId: string): Promise<string[]> {
  const rows: { permissions: string[] }[] = await em.query(
    `SELECT permissions FROM identity.tenant_module_permissions WHERE tenant_id = $1`,
    [tenantId],
  );
  return [...new Set(rows.flatMap((r) => r.permissions))].sort();
}
