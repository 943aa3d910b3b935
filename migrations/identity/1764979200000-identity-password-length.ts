import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll } from '../../kernel/db/rls';

/** A tenant may require longer passwords of its members; an account meets the strictest of its tenants. */
export class IdentityPasswordLength1764979200000 implements MigrationInterface {
  name = 'IdentityPasswordLength1764979200000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `ALTER TABLE identity.tenant_security_policies ADD COLUMN password_min_length int NOT NULL DEFAULT 8 CHECK (password_min_length BETWEEN 8 AND 128)`,
      // Policies of other tenants are invisible to the runtime role: one narrow definer function.
      `CREATE FUNCTION identity.password_min_length(p_user uuid, p_tenant uuid) RETURNS int
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ SELECT coalesce(max(p.password_min_length), 8) FROM identity.tenant_security_policies p
                WHERE p.tenant_id = p_tenant OR p.tenant_id IN (SELECT m.tenant_id FROM identity.memberships m WHERE m.user_id = p_user) $$`,
      `REVOKE ALL ON FUNCTION identity.password_min_length(uuid, uuid) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION identity.password_min_length(uuid, uuid) TO nexus_app`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP FUNCTION identity.password_min_length(uuid, uuid)`,
      `ALTER TABLE identity.tenant_security_policies DROP COLUMN password_min_length`,
    ]);
  }
}
