import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';

/** Tenant branding identity's mails use (learnt from tenancy's events), and a sender name per queued mail. */
export class IdentityMailBranding1765065600000 implements MigrationInterface {
  name = 'IdentityMailBranding1765065600000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE identity.tenant_branding (
         tenant_id uuid PRIMARY KEY,
         display_name text,
         sender_name text)`,
      ...tenantTableSql('identity.tenant_branding', { privileges: 'SELECT' }),
      `ALTER TABLE identity.mail_queue ADD COLUMN sender_name text`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [`ALTER TABLE identity.mail_queue DROP COLUMN sender_name`, `DROP TABLE identity.tenant_branding`]);
  }
}
