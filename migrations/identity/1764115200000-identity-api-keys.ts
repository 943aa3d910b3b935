import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';

/** API keys: a visible prefix, a hashed secret, a subset of the creator's permissions. */
export class IdentityApiKeys1764115200000 implements MigrationInterface {
  name = 'IdentityApiKeys1764115200000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE identity.api_keys (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
         name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
         prefix text NOT NULL,
         secret_hash text NOT NULL,
         permissions text[] NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         expires_at timestamptz,
         last_used_at timestamptz,
         revoked_at timestamptz,
         PRIMARY KEY (tenant_id, id))`,
      `CREATE INDEX api_keys_prefix_idx ON identity.api_keys (prefix)`,
      ...tenantTableSql('identity.api_keys'),
      // The gateway presents only the key: find its tenant by the visible prefix.
      `CREATE FUNCTION identity.api_key_tenant(p_prefix text) RETURNS uuid
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ SELECT k.tenant_id FROM identity.api_keys k WHERE k.prefix = p_prefix LIMIT 1 $$`,
      `REVOKE ALL ON FUNCTION identity.api_key_tenant(text) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION identity.api_key_tenant(text) TO nexus_app`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [`DROP FUNCTION identity.api_key_tenant(text)`, `DROP TABLE identity.api_keys`]);
  }
}
