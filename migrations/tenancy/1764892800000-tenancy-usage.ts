import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';

/** Plan-of-record limits per tenant and usage in hourly buckets per tenant, metric and module. */
export class TenancyUsage1764892800000 implements MigrationInterface {
  name = 'TenancyUsage1764892800000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE tenancy.tenant_limits (
         tenant_id uuid PRIMARY KEY REFERENCES tenancy.tenants (tenant_id) ON DELETE CASCADE,
         limits jsonb NOT NULL DEFAULT '{}',
         updated_at timestamptz NOT NULL DEFAULT now())`,
      `CREATE TABLE tenancy.usage (
         tenant_id uuid NOT NULL REFERENCES tenancy.tenants (tenant_id) ON DELETE CASCADE,
         metric text NOT NULL,
         module text NOT NULL DEFAULT '',
         hour timestamptz NOT NULL CHECK (date_trunc('hour', hour) = hour),
         amount bigint NOT NULL CHECK (amount >= 0),
         PRIMARY KEY (tenant_id, metric, module, hour))`,
      ...tenantTableSql('tenancy.tenant_limits', { privileges: 'SELECT' }),
      ...tenantTableSql('tenancy.usage', { privileges: 'SELECT' }),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [`DROP TABLE tenancy.usage`, `DROP TABLE tenancy.tenant_limits`]);
  }
}
