import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';

/** Tenant settings other services act on: data residency label, read-receipt policy. */
export class TenancySettings1764979200000 implements MigrationInterface {
  name = 'TenancySettings1764979200000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE tenancy.settings (
         tenant_id uuid PRIMARY KEY REFERENCES tenancy.tenants (tenant_id) ON DELETE CASCADE,
         data_residency text CHECK (data_residency ~ '^[a-z0-9][a-z0-9-]{1,31}$'),
         read_receipts text NOT NULL DEFAULT 'public' CHECK (read_receipts IN ('public', 'private')),
         updated_at timestamptz NOT NULL DEFAULT now())`,
      ...tenantTableSql('tenancy.settings', { privileges: 'SELECT, INSERT, UPDATE' }),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE tenancy.settings`);
  }
}
