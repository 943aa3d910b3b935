import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll } from '../../kernel/db/rls';

/**
 * A registration that names an address another account already holds gets an account of its own that does not
 * hold the address: `email` stays null (nothing that looks accounts up by address — reset, invitations, single
 * sign-on, Super Admins by configuration — ever finds it), the address it named is kept in `registered_email`, and
 * `registration_tag`, a keyed 16-bit tag of address and password, lets sign-in pick that account for its own
 * password with a single password check (see `identity.sign_in_candidate`).
 */
export class IdentityRegistrations1765497600000 implements MigrationInterface {
  name = 'IdentityRegistrations1765497600000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `ALTER TABLE identity.users ALTER COLUMN email DROP NOT NULL`,
      `ALTER TABLE identity.users ADD COLUMN registered_email text, ADD COLUMN registration_tag int`,
      `ALTER TABLE identity.users ADD CONSTRAINT users_one_address CHECK (num_nonnulls(email, registered_email) = 1 AND (registered_email IS NULL) = (registration_tag IS NULL))`,
      `CREATE INDEX users_registered_email ON identity.users (registered_email, registration_tag) WHERE registered_email IS NOT NULL`,
      `DROP FUNCTION identity.sign_in_candidate(text)`,
      // At most two accounts, in the order sign-in checks them: the newest registration that named this address
      // with this tag (only when one does), then the account that holds the address.
      `CREATE FUNCTION identity.sign_in_candidate(p_email text, p_tag int)
         RETURNS TABLE (user_id uuid, email text, password_hash text, created_at timestamptz, email_verified_at timestamptz, totp_enabled boolean, memberships jsonb)
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$
           WITH candidates AS (
             (SELECT u.*, 0 AS rank FROM identity.users u
               WHERE u.registered_email = lower(p_email) AND u.registration_tag = p_tag ORDER BY u.created_at DESC LIMIT 1)
             UNION ALL
             (SELECT u.*, 1 AS rank FROM identity.users u WHERE u.email = lower(p_email)))
           SELECT u.id, coalesce(u.email, u.registered_email), u.password_hash, u.created_at, u.email_verified_at, u.totp_enabled_at IS NOT NULL,
                  coalesce((SELECT jsonb_agg(jsonb_build_object('tenantId', m.tenant_id, 'role', m.role, 'requireSso', coalesce(p.require_sso, false))
                                             ORDER BY m.created_at, m.tenant_id)
                              FROM identity.memberships m
                              LEFT JOIN identity.tenant_security_policies p ON p.tenant_id = m.tenant_id
                             WHERE m.user_id = u.id), '[]'::jsonb)
             FROM candidates u ORDER BY u.rank
         $$`,
      `REVOKE ALL ON FUNCTION identity.sign_in_candidate(text, int) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION identity.sign_in_candidate(text, int) TO nexus_app`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP FUNCTION identity.sign_in_candidate(text, int)`,
      `CREATE FUNCTION identity.sign_in_candidate(p_email text)
         RETURNS TABLE (user_id uuid, email text, password_hash text, created_at timestamptz, email_verified_at timestamptz, totp_enabled boolean, memberships jsonb)
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$
           SELECT u.id, u.email, u.password_hash, u.created_at, u.email_verified_at, u.totp_enabled_at IS NOT NULL,
                  coalesce((SELECT jsonb_agg(jsonb_build_object('tenantId', m.tenant_id, 'role', m.role, 'requireSso', coalesce(p.require_sso, false))
                                             ORDER BY m.created_at, m.tenant_id)
                              FROM identity.memberships m
                              LEFT JOIN identity.tenant_security_policies p ON p.tenant_id = m.tenant_id
                             WHERE m.user_id = u.id), '[]'::jsonb)
             FROM identity.users u WHERE u.email = lower(p_email)
         $$`,
      `REVOKE ALL ON FUNCTION identity.sign_in_candidate(text) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION identity.sign_in_candidate(text) TO nexus_app`,
      `DROP INDEX identity.users_registered_email`,
      `ALTER TABLE identity.users DROP CONSTRAINT users_one_address`,
      `ALTER TABLE identity.users DROP COLUMN registered_email, DROP COLUMN registration_tag`,
      `DELETE FROM identity.users WHERE email IS NULL`,
      `ALTER TABLE identity.users ALTER COLUMN email SET NOT NULL`,
    ]);
  }
}
