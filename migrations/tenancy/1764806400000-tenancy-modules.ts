import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';

/** The module catalog (global, readable by every tenant) and the modules each tenant installed. */
export class TenancyModules1764806400000 implements MigrationInterface {
  name = 'TenancyModules1764806400000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE tenancy.modules (
         id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
         manifest jsonb NOT NULL,
         published_at timestamptz NOT NULL DEFAULT now())`,
      `ALTER TABLE tenancy.modules ENABLE ROW LEVEL SECURITY`,
      `ALTER TABLE tenancy.modules FORCE ROW LEVEL SECURITY`,
      `CREATE POLICY modules_catalog_readable ON tenancy.modules FOR SELECT USING (current_setting('app.tenant_id', true) IS NOT NULL)`,
      `GRANT SELECT ON tenancy.modules TO nexus_app`,
      `CREATE TABLE tenancy.tenant_modules (
         tenant_id uuid NOT NULL REFERENCES tenancy.tenants (tenant_id) ON DELETE CASCADE,
         module_id text NOT NULL REFERENCES tenancy.modules (id),
         version text NOT NULL,
         installed_at timestamptz NOT NULL DEFAULT now(),
         installed_by uuid,
         PRIMARY KEY (tenant_id, module_id))`,
      ...tenantTableSql('tenancy.tenant_modules'),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [`DROP TABLE tenancy.tenant_modules`, `DROP TABLE tenancy.modules`]);
  }
}
