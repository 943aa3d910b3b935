import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll } from '../../kernel/db/rls';

/**
 * Everything sign-in needs about an account in one narrow definer function, read before anyone is
 * known: the password hash, whether a second factor is on, and the account's tenants (oldest first).
 */
export class IdentitySignIn1764720000000 implements MigrationInterface {
  name = 'IdentitySignIn1764720000000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE FUNCTION identity.sign_in_candidate(p_email text)
         RETURNS TABLE (user_id uuid, email text, password_hash text, created_at timestamptz, email_verified_at timestamptz, totp_enabled boolean, memberships jsonb)
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$
           SELECT u.id, u.email, u.password_hash, u.created_at, u.email_verified_at, u.totp_enabled_at IS NOT NULL,
                  coalesce((SELECT jsonb_agg(jsonb_build_object('tenantId', m.tenant_id, 'role', m.role) ORDER BY m.created_at, m.tenant_id)
                              FROM identity.memberships m WHERE m.user_id = u.id), '[]'::jsonb)
             FROM identity.users u WHERE u.email = lower(p_email)
         $$`,
      `REVOKE ALL ON FUNCTION identity.sign_in_candidate(text) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION identity.sign_in_candidate(text) TO nexus_app`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION identity.sign_in_candidate(text)`);
  }
}
