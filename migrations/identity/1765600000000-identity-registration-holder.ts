import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll } from '../../kernel/db/rls';

const CANDIDATE_COLUMNS = `user_id uuid, email text, password_hash text, created_at timestamptz, email_verified_at timestamptz, totp_enabled boolean, memberships jsonb`;
const MEMBERSHIPS_SQL = `coalesce((SELECT jsonb_agg(jsonb_build_object('tenantId', m.tenant_id, 'role', m.role, 'requireSso', coalesce(p.require_sso, false))
                                             ORDER BY m.created_at, m.tenant_id)
                              FROM identity.memberships m
                              LEFT JOIN identity.tenant_security_policies p ON p.tenant_id = m.tenant_id
                             WHERE m.user_id = u.id), '[]'::jsonb)`;

/**
 * The account holding an address always wins over a registration that named it. A registration whose password is
 * the holder's keeps no tag (`registration_tag` null: no password ever reaches it), and the functions that keep it
 * so when a password is set later: `registrations_naming` (the registrations of an address with a tag, to check
 * the new password against) and `unlink_registration`. Sign-in tells the holder's address from the address a
 * registration named (`registered_email`), so an account made by such a registration never looks like the holder.
 */
export class IdentityRegistrationHolder1765600000000 implements MigrationInterface {
  name = 'IdentityRegistrationHolder1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `ALTER TABLE identity.users DROP CONSTRAINT users_one_address`,
      `ALTER TABLE identity.users ADD CONSTRAINT users_one_address CHECK (num_nonnulls(email, registered_email) = 1 AND (registration_tag IS NULL OR registered_email IS NOT NULL))`,
      `DROP FUNCTION identity.sign_in_candidate(text, int)`,
      // At most two accounts, in the order sign-in checks them: the newest registration that named this address
      // with this tag (only when one does), then the account that holds the address.
      `CREATE FUNCTION identity.sign_in_candidate(p_email text, p_tag int)
         RETURNS TABLE (${CANDIDATE_COLUMNS}, registered_email text)
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$
           WITH candidates AS (
             (SELECT u.*, 0 AS rank FROM identity.users u
               WHERE u.registered_email = lower(p_email) AND u.registration_tag = p_tag ORDER BY u.created_at DESC LIMIT 1)
             UNION ALL
             (SELECT u.*, 1 AS rank FROM identity.users u WHERE u.email = lower(p_email)))
           SELECT u.id, u.email, u.password_hash, u.created_at, u.email_verified_at, u.totp_enabled_at IS NOT NULL, ${MEMBERSHIPS_SQL}, u.registered_email
             FROM candidates u ORDER BY u.rank
         $$`,
      `REVOKE ALL ON FUNCTION identity.sign_in_candidate(text, int) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION identity.sign_in_candidate(text, int) TO nexus_app`,
      `CREATE FUNCTION identity.registrations_naming(p_email text, p_tag int)
         RETURNS TABLE (user_id uuid, password_hash text)
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ SELECT u.id, u.password_hash FROM identity.users u WHERE u.registered_email = lower(p_email) AND u.registration_tag = p_tag $$`,
      `REVOKE ALL ON FUNCTION identity.registrations_naming(text, int) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION identity.registrations_naming(text, int) TO nexus_app`,
      `CREATE FUNCTION identity.unlink_registration(p_user_id uuid, p_email text) RETURNS void
         LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ UPDATE identity.users SET registration_tag = NULL WHERE id = p_user_id AND registered_email = lower(p_email) $$`,
      `REVOKE ALL ON FUNCTION identity.unlink_registration(uuid, text) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION identity.unlink_registration(uuid, text) TO nexus_app`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP FUNCTION identity.unlink_registration(uuid, text)`,
      `DROP FUNCTION identity.registrations_naming(text, int)`,
      `DROP FUNCTION identity.sign_in_candidate(text, int)`,
      `CREATE FUNCTION identity.sign_in_candidate(p_email text, p_tag int)
         RETURNS TABLE (${CANDIDATE_COLUMNS})
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$
           WITH candidates AS (
             (SELECT u.*, 0 AS rank FROM identity.users u
               WHERE u.registered_email = lower(p_email) AND u.registration_tag = p_tag ORDER BY u.created_at DESC LIMIT 1)
             UNION ALL
             (SELECT u.*, 1 AS rank FROM identity.users u WHERE u.email = lower(p_email)))
           SELECT u.id, coalesce(u.email, u.registered_email), u.password_hash, u.created_at, u.email_verified_at, u.totp_enabled_at IS NOT NULL, ${MEMBERSHIPS_SQL}
             FROM candidates u ORDER BY u.rank
         $$`,
      `REVOKE ALL ON FUNCTION identity.sign_in_candidate(text, int) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION identity.sign_in_candidate(text, int) TO nexus_app`,
      // No tag a sign-in computes is negative: such an account stays unreachable by password, as it was.
      `UPDATE identity.users SET registration_tag = -1 WHERE registered_email IS NOT NULL AND registration_tag IS NULL`,
      `ALTER TABLE identity.users DROP CONSTRAINT users_one_address`,
      `ALTER TABLE identity.users ADD CONSTRAINT users_one_address CHECK (num_nonnulls(email, registered_email) = 1 AND (registered_email IS NULL) = (registration_tag IS NULL))`,
    ]);
  }
}
