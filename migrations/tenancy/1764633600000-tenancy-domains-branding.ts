import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';

/**
 * Custom domains proven by a DNS TXT record (a verified domain belongs to one tenant only), and the
 * tenant's branding, readable before sign-in through narrow definer functions.
 */
export class TenancyDomainsBranding1764633600000 implements MigrationInterface {
  name = 'TenancyDomainsBranding1764633600000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE tenancy.domains (
         tenant_id uuid NOT NULL REFERENCES tenancy.tenants (tenant_id) ON DELETE CASCADE,
         id uuid NOT NULL,
         domain text NOT NULL CHECK (length(domain) BETWEEN 3 AND 253),
         token text NOT NULL,
         status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified', 'failed')),
         verified_at timestamptz,
         last_checked_at timestamptz,
         last_error text,
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, id))`,
      `CREATE UNIQUE INDEX domains_tenant_domain_key ON tenancy.domains (tenant_id, domain)`,
      // One tenant per verified domain, whoever verifies first: a global registry only definer functions touch.
      `CREATE TABLE tenancy.domain_claims (
         domain text PRIMARY KEY,
         owner_tenant uuid NOT NULL REFERENCES tenancy.tenants (tenant_id) ON DELETE CASCADE,
         claimed_at timestamptz NOT NULL DEFAULT now())`,
      `ALTER TABLE tenancy.domain_claims ENABLE ROW LEVEL SECURITY`,
      `ALTER TABLE tenancy.domain_claims FORCE ROW LEVEL SECURITY`,
      `CREATE FUNCTION tenancy.claim_domain(p_domain text, p_tenant uuid) RETURNS uuid
         LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ INSERT INTO tenancy.domain_claims (domain, owner_tenant) VALUES (p_domain, p_tenant) ON CONFLICT (domain) DO NOTHING;
               SELECT owner_tenant FROM tenancy.domain_claims WHERE domain = p_domain $$`,
      `CREATE FUNCTION tenancy.release_domain(p_domain text, p_tenant uuid) RETURNS void
         LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ DELETE FROM tenancy.domain_claims WHERE domain = p_domain AND owner_tenant = p_tenant $$`,
      `CREATE TABLE tenancy.branding (
         tenant_id uuid PRIMARY KEY REFERENCES tenancy.tenants (tenant_id) ON DELETE CASCADE,
         display_name text CHECK (length(display_name) BETWEEN 1 AND 100),
         logo_url text CHECK (length(logo_url) <= 2048),
         primary_color text CHECK (primary_color ~ '^#[0-9a-f]{6}$'),
         accent_color text CHECK (accent_color ~ '^#[0-9a-f]{6}$'),
         email_sender_name text CHECK (length(email_sender_name) BETWEEN 1 AND 100),
         updated_at timestamptz NOT NULL DEFAULT now())`,
      ...tenantTableSql('tenancy.domains'),
      ...tenantTableSql('tenancy.branding', { privileges: 'SELECT, INSERT, UPDATE' }),
      `CREATE FUNCTION tenancy.domain_owner(p_domain text) RETURNS uuid
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ SELECT c.owner_tenant FROM tenancy.domain_claims c JOIN tenancy.tenants t ON t.tenant_id = c.owner_tenant
                WHERE c.domain = lower(p_domain) AND t.status = 'active' $$`,
      `CREATE FUNCTION tenancy.public_branding(p_tenant uuid, p_slug text)
         RETURNS TABLE (tenant_id uuid, name text, slug text, display_name text, logo_url text, primary_color text, accent_color text, email_sender_name text)
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ SELECT t.tenant_id, t.name, t.slug, b.display_name, b.logo_url, b.primary_color, b.accent_color, b.email_sender_name
                 FROM tenancy.tenants t LEFT JOIN tenancy.branding b ON b.tenant_id = t.tenant_id
                WHERE (t.tenant_id = p_tenant OR t.slug = p_slug) AND t.status = 'active' $$`,
      ...[
        'domain_owner(text)',
        'public_branding(uuid, text)',
        'claim_domain(text, uuid)',
        'release_domain(text, uuid)',
      ].flatMap((f) => [
        `REVOKE ALL ON FUNCTION tenancy.${f} FROM PUBLIC`,
        `GRANT EXECUTE ON FUNCTION tenancy.${f} TO nexus_app`,
      ]),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP FUNCTION tenancy.public_branding(uuid, text)`,
      `DROP FUNCTION tenancy.release_domain(text, uuid)`,
      `DROP FUNCTION tenancy.claim_domain(text, uuid)`,
      `DROP TABLE tenancy.domain_claims`,
      `DROP FUNCTION tenancy.domain_owner(text)`,
      `DROP TABLE tenancy.branding`,
      `DROP TABLE tenancy.domains`,
    ]);
  }
}
