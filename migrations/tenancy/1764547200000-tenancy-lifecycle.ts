import type { MigrationInterface, QueryRunner } from 'typeorm';
import { CURRENT_USER_SQL, runAll } from '../../kernel/db/rls';

/**
 * Tenant lifecycle: members create tenants (INSERT for the runtime role), suspension with a reason, and
 * a member may read their own memberships and those tenants across tenants (for `myTenants`).
 */
export class TenancyLifecycle1764547200000 implements MigrationInterface {
  name = 'TenancyLifecycle1764547200000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `ALTER TABLE tenancy.tenants ADD COLUMN status_reason text, ADD COLUMN status_changed_at timestamptz`,
      `GRANT INSERT ON tenancy.tenants TO nexus_app`,
      `CREATE POLICY memberships_own ON tenancy.memberships FOR SELECT USING (user_id = ${CURRENT_USER_SQL})`,
      `CREATE POLICY tenants_of_own_memberships ON tenancy.tenants FOR SELECT
         USING (tenant_id IN (SELECT m.tenant_id FROM tenancy.memberships m WHERE m.user_id = ${CURRENT_USER_SQL}))`,
      // Slugs are unique across tenants, which the runtime role cannot see: one narrow definer function.
      `CREATE FUNCTION tenancy.slug_taken(p_slug text) RETURNS boolean
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ SELECT EXISTS (SELECT 1 FROM tenancy.tenants WHERE slug = p_slug) $$`,
      `REVOKE ALL ON FUNCTION tenancy.slug_taken(text) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION tenancy.slug_taken(text) TO nexus_app`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP FUNCTION tenancy.slug_taken(text)`,
      `DROP POLICY tenants_of_own_memberships ON tenancy.tenants`,
      `DROP POLICY memberships_own ON tenancy.memberships`,
      `REVOKE INSERT ON tenancy.tenants FROM nexus_app`,
      `ALTER TABLE tenancy.tenants DROP COLUMN status_changed_at, DROP COLUMN status_reason`,
    ]);
  }
}
