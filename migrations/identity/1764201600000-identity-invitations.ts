import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';

/** Invitations by e-mail into a tenant, with a role, accepted once through a mailed link. */
export class IdentityInvitations1764201600000 implements MigrationInterface {
  name = 'IdentityInvitations1764201600000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE identity.invitations (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         email text NOT NULL,
         role text NOT NULL CHECK (role IN ('admin', 'member')),
         token_hash text NOT NULL,
         invited_by uuid NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         expires_at timestamptz NOT NULL,
         accepted_at timestamptz,
         accepted_by uuid,
         PRIMARY KEY (tenant_id, id))`,
      `CREATE INDEX invitations_token_idx ON identity.invitations (token_hash)`,
      ...tenantTableSql('identity.invitations'),
      `CREATE FUNCTION identity.invitation_tenant(p_hash text) RETURNS uuid
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ SELECT i.tenant_id FROM identity.invitations i
               WHERE i.token_hash = p_hash AND i.accepted_at IS NULL AND i.expires_at > now() LIMIT 1 $$`,
      `REVOKE ALL ON FUNCTION identity.invitation_tenant(text) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION identity.invitation_tenant(text) TO nexus_app`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [`DROP FUNCTION identity.invitation_tenant(text)`, `DROP TABLE identity.invitations`]);
  }
}
