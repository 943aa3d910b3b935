import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';

/** Per-tenant sign-in rules: mandatory 2FA, what members with an unconfirmed address may do. */
export class IdentitySecurityPolicy1764547200000 implements MigrationInterface {
  name = 'IdentitySecurityPolicy1764547200000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE identity.tenant_security_policies (
         tenant_id uuid PRIMARY KEY,
         require_two_factor boolean NOT NULL DEFAULT false,
         unverified_access text NOT NULL DEFAULT 'FULL' CHECK (unverified_access IN ('FULL', 'READ_ONLY', 'ACCOUNT_ONLY')),
         updated_at timestamptz NOT NULL DEFAULT now()
       )`,
      ...tenantTableSql('identity.tenant_security_policies', { privileges: 'SELECT, INSERT, UPDATE' }),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE identity.tenant_security_policies`);
  }
}
