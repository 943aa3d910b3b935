import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';

/**
 * What the tenant's platform plan grants (as commerce last reported it): its modules and limits, the modules the
 * grant itself installed (the only ones a later grant takes back), and the billing standing last applied.
 */
export class TenancyPlanGrants1765800000000 implements MigrationInterface {
  name = 'TenancyPlanGrants1765800000000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE tenancy.plan_grants (
         tenant_id uuid PRIMARY KEY REFERENCES tenancy.tenants (tenant_id) ON DELETE CASCADE,
         version int NOT NULL DEFAULT 0,
         plan_id text,
         modules text[] NOT NULL DEFAULT '{}',
         limits jsonb NOT NULL DEFAULT '{}',
         installed text[] NOT NULL DEFAULT '{}',
         standing text CHECK (standing IN ('good', 'delinquent')),
         standing_version int NOT NULL DEFAULT 0,
         updated_at timestamptz NOT NULL DEFAULT now())`,
      ...tenantTableSql('tenancy.plan_grants', { privileges: 'SELECT' }),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [`DROP TABLE tenancy.plan_grants`]);
  }
}
