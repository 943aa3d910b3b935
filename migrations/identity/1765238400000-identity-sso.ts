import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';

/**
 * Enterprise single sign-on: a tenant's SAML and OIDC connections, the sign-ins in flight (OIDC state,
 * PKCE verifier and nonce; SAML request ids) kept in the database so any instance can finish them, the
 * SAML assertion ids already used, one-time codes that hand a finished sign-in to the application, and
 * the link between an identity provider's subject and an account. Plus the "SSO required" policy and the
 * sign-in method of each session.
 */
export class IdentitySso1765238400000 implements MigrationInterface {
  name = 'IdentitySso1765238400000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE identity.sso_connections (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         kind text NOT NULL CHECK (kind IN ('saml', 'oidc')),
         name text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
         enabled boolean NOT NULL DEFAULT true,
         settings jsonb NOT NULL,
         secret_sealed text,
         role_mapping jsonb NOT NULL DEFAULT '[]'::jsonb,
         default_role text NOT NULL DEFAULT 'member',
         redirect_url text,
         allowed_domains text[] NOT NULL CHECK (cardinality(allowed_domains) > 0),
         created_by uuid NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, id))`,
      `CREATE TABLE identity.sso_requests (
         tenant_id uuid NOT NULL,
         id text NOT NULL,
         connection_id uuid NOT NULL,
         nonce_secret text,
         verifier_secret text,
         browser_hash text,
         return_to text,
         expires_at timestamptz NOT NULL,
         used_at timestamptz,
         PRIMARY KEY (tenant_id, id),
         FOREIGN KEY (tenant_id, connection_id) REFERENCES identity.sso_connections (tenant_id, id) ON DELETE CASCADE)`,
      `CREATE TABLE identity.sso_assertions (
         tenant_id uuid NOT NULL,
         connection_id uuid NOT NULL,
         assertion_id text NOT NULL,
         expires_at timestamptz NOT NULL,
         PRIMARY KEY (tenant_id, connection_id, assertion_id),
         FOREIGN KEY (tenant_id, connection_id) REFERENCES identity.sso_connections (tenant_id, id) ON DELETE CASCADE)`,
      `CREATE TABLE identity.sso_login_codes (
         tenant_id uuid NOT NULL,
         code_hash text NOT NULL,
         user_id uuid NOT NULL,
         connection_id uuid NOT NULL,
         role text NOT NULL,
         expires_at timestamptz NOT NULL,
         used_at timestamptz,
         PRIMARY KEY (tenant_id, code_hash),
         FOREIGN KEY (tenant_id, connection_id) REFERENCES identity.sso_connections (tenant_id, id) ON DELETE CASCADE)`,
      `CREATE TABLE identity.sso_identities (
         tenant_id uuid NOT NULL,
         connection_id uuid NOT NULL,
         subject text NOT NULL,
         user_id uuid NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, connection_id, subject),
         FOREIGN KEY (tenant_id, connection_id) REFERENCES identity.sso_connections (tenant_id, id) ON DELETE CASCADE)`,
      ...tenantTableSql('identity.sso_connections'),
      ...tenantTableSql('identity.sso_requests'),
      ...tenantTableSql('identity.sso_assertions'),
      ...tenantTableSql('identity.sso_login_codes'),
      ...tenantTableSql('identity.sso_identities'),
      `ALTER TABLE identity.tenant_security_policies ADD COLUMN require_sso boolean NOT NULL DEFAULT false`,
      `ALTER TABLE identity.sessions ADD COLUMN auth_method text NOT NULL DEFAULT 'password' CHECK (auth_method IN ('password', 'sso'))`,
      // Sign-in reads each membership's "SSO required" rule in the same statement.
      `CREATE OR REPLACE FUNCTION identity.sign_in_candidate(p_email text)
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
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE OR REPLACE FUNCTION identity.sign_in_candidate(p_email text)
         RETURNS TABLE (user_id uuid, email text, password_hash text, created_at timestamptz, email_verified_at timestamptz, totp_enabled boolean, memberships jsonb)
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$
           SELECT u.id, u.email, u.password_hash, u.created_at, u.email_verified_at, u.totp_enabled_at IS NOT NULL,
                  coalesce((SELECT jsonb_agg(jsonb_build_object('tenantId', m.tenant_id, 'role', m.role) ORDER BY m.created_at, m.tenant_id)
                              FROM identity.memberships m WHERE m.user_id = u.id), '[]'::jsonb)
             FROM identity.users u WHERE u.email = lower(p_email)
         $$`,
      `ALTER TABLE identity.sessions DROP COLUMN auth_method`,
      `ALTER TABLE identity.tenant_security_policies DROP COLUMN require_sso`,
      `DROP TABLE identity.sso_identities`,
      `DROP TABLE identity.sso_login_codes`,
      `DROP TABLE identity.sso_assertions`,
      `DROP TABLE identity.sso_requests`,
      `DROP TABLE identity.sso_connections`,
    ]);
  }
}
