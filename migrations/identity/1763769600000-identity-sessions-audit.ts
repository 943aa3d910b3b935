import type { MigrationInterface, QueryRunner } from 'typeorm';
import { CURRENT_TENANT_SQL, CURRENT_USER_SQL, runAll, tenantTableSql } from '../../kernel/db/rls';

/** Refresh-token rotation with reuse detection, session metadata, and the security audit log. */
export class IdentitySessionsAudit1763769600000 implements MigrationInterface {
  name = 'IdentitySessionsAudit1763769600000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `ALTER TABLE identity.sessions
         ADD COLUMN user_agent text,
         ADD COLUMN ip text,
         ADD COLUMN last_used_at timestamptz NOT NULL DEFAULT now(),
         ADD COLUMN revoked_reason text`,
      // Every refresh token a session was ever given: a used one presented again means theft.
      `CREATE TABLE identity.refresh_tokens (
         tenant_id uuid NOT NULL,
         token_hash text NOT NULL,
         session_id uuid NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         used_at timestamptz,
         PRIMARY KEY (tenant_id, token_hash),
         FOREIGN KEY (tenant_id, session_id) REFERENCES identity.sessions (tenant_id, id) ON DELETE CASCADE)`,
      `CREATE INDEX refresh_tokens_hash_idx ON identity.refresh_tokens (token_hash)`,
      `INSERT INTO identity.refresh_tokens (tenant_id, token_hash, session_id, created_at)
         SELECT tenant_id, refresh_token_hash, id, created_at FROM identity.sessions`,
      `DROP INDEX identity.sessions_refresh_hash_key`,
      `ALTER TABLE identity.sessions DROP COLUMN refresh_token_hash`,
      ...tenantTableSql('identity.refresh_tokens'),
      // A refresh arrives without any other credential: find which tenant the token belongs to.
      `CREATE FUNCTION identity.refresh_token_tenant(p_hash text) RETURNS uuid
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ SELECT r.tenant_id FROM identity.refresh_tokens r WHERE r.token_hash = p_hash LIMIT 1 $$`,
      `REVOKE ALL ON FUNCTION identity.refresh_token_tenant(text) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION identity.refresh_token_tenant(text) TO nexus_app`,
      // Sessions: a tenant's, and an account's own in every tenant (sign out everywhere, list devices).
      `DROP POLICY sessions_tenant_isolation ON identity.sessions`,
      `CREATE POLICY sessions_tenant_or_self ON identity.sessions
         USING (tenant_id = ${CURRENT_TENANT_SQL} OR user_id = ${CURRENT_USER_SQL})
         WITH CHECK (tenant_id = ${CURRENT_TENANT_SQL} OR user_id = ${CURRENT_USER_SQL})`,
      `CREATE TABLE identity.audit_events (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
         actor_id uuid,
         action text NOT NULL,
         target text,
         result text NOT NULL CHECK (result IN ('success', 'failure')),
         ip text,
         user_agent text,
         details jsonb NOT NULL DEFAULT '{}',
         PRIMARY KEY (tenant_id, id))`,
      `CREATE INDEX audit_events_recent_idx ON identity.audit_events (tenant_id, occurred_at DESC, id DESC)`,
      // Append-only for the application.
      ...tenantTableSql('identity.audit_events', { privileges: 'SELECT, INSERT' }),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP TABLE identity.audit_events`,
      `DROP POLICY sessions_tenant_or_self ON identity.sessions`,
      `CREATE POLICY sessions_tenant_isolation ON identity.sessions USING (tenant_id = ${CURRENT_TENANT_SQL}) WITH CHECK (tenant_id = ${CURRENT_TENANT_SQL})`,
      `DROP FUNCTION identity.refresh_token_tenant(text)`,
      `ALTER TABLE identity.sessions ADD COLUMN refresh_token_hash text`,
      `UPDATE identity.sessions s SET refresh_token_hash = (SELECT r.token_hash FROM identity.refresh_tokens r
         WHERE r.session_id = s.id AND r.tenant_id = s.tenant_id ORDER BY r.created_at DESC LIMIT 1)`,
      `DELETE FROM identity.sessions WHERE refresh_token_hash IS NULL`,
      `ALTER TABLE identity.sessions ALTER COLUMN refresh_token_hash SET NOT NULL`,
      `CREATE UNIQUE INDEX sessions_refresh_hash_key ON identity.sessions (tenant_id, refresh_token_hash)`,
      `DROP TABLE identity.refresh_tokens`,
      `ALTER TABLE identity.sessions DROP COLUMN user_agent, DROP COLUMN ip, DROP COLUMN last_used_at, DROP COLUMN revoked_reason`,
    ]);
  }
}
