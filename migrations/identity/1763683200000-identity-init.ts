import type { MigrationInterface, QueryRunner } from 'typeorm';
import { CURRENT_TENANT_SQL, CURRENT_USER_SQL, runAll, tenantTableSql } from '../../kernel/db/rls';
import { eventTablesSql } from '../../kernel/events';

export class IdentityInit1763683200000 implements MigrationInterface {
  name = 'IdentityInit1763683200000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE identity.users (
         id uuid PRIMARY KEY,
         email text NOT NULL CHECK (email = lower(email) AND length(email) <= 254),
         password_hash text NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now())`,
      `CREATE UNIQUE INDEX users_email_key ON identity.users (email)`,
      `CREATE TABLE identity.memberships (
         tenant_id uuid NOT NULL,
         user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
         role text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, user_id))`,
      `CREATE INDEX memberships_user_idx ON identity.memberships (user_id)`,
      `CREATE TABLE identity.sessions (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
         refresh_token_hash text NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         expires_at timestamptz NOT NULL,
         revoked_at timestamptz,
         PRIMARY KEY (tenant_id, id))`,
      `CREATE UNIQUE INDEX sessions_refresh_hash_key ON identity.sessions (tenant_id, refresh_token_hash)`,
      ...tenantTableSql('identity.sessions'),
      // Memberships: a tenant sees its members; an account also sees its own memberships (to sign in).
      `ALTER TABLE identity.memberships ENABLE ROW LEVEL SECURITY`,
      `ALTER TABLE identity.memberships FORCE ROW LEVEL SECURITY`,
      `CREATE POLICY memberships_tenant_or_self ON identity.memberships
         USING (tenant_id = ${CURRENT_TENANT_SQL} OR user_id = ${CURRENT_USER_SQL})
         WITH CHECK (tenant_id = ${CURRENT_TENANT_SQL})`,
      `GRANT SELECT, INSERT, UPDATE, DELETE ON identity.memberships TO nexus_app`,
      // Accounts: visible to themselves and to members of the current tenant; only self-writable.
      `ALTER TABLE identity.users ENABLE ROW LEVEL SECURITY`,
      `ALTER TABLE identity.users FORCE ROW LEVEL SECURITY`,
      `CREATE POLICY users_self_or_fellow_member ON identity.users
         USING (id = ${CURRENT_USER_SQL} OR EXISTS (
           SELECT 1 FROM identity.memberships m WHERE m.user_id = users.id AND m.tenant_id = ${CURRENT_TENANT_SQL}))
         WITH CHECK (id = ${CURRENT_USER_SQL})`,
      `GRANT SELECT, INSERT, UPDATE ON identity.users TO nexus_app`,
      // Sign-in looks an account up by email before anyone is known: one narrow definer function.
      `CREATE FUNCTION identity.credentials_for_login(p_email text)
         RETURNS TABLE (user_id uuid, password_hash text)
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ SELECT u.id, u.password_hash FROM identity.users u WHERE u.email = lower(p_email) $$`,
      `REVOKE ALL ON FUNCTION identity.credentials_for_login(text) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION identity.credentials_for_login(text) TO nexus_app`,
      ...eventTablesSql('identity'),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP FUNCTION identity.credentials_for_login(text)`,
      `DROP TABLE identity.processed_events`,
      `DROP TABLE identity.outbox`,
      `DROP TABLE identity.sessions`,
      `DROP TABLE identity.memberships`,
      `DROP TABLE identity.users`,
    ]);
  }
}
