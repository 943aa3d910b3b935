import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';

/** Tenant data exports: requested by the owner, assembled from one part per subgraph. */
export class TenancyExports1765065600000 implements MigrationInterface {
  name = 'TenancyExports1765065600000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE tenancy.exports (
         tenant_id uuid NOT NULL REFERENCES tenancy.tenants (tenant_id) ON DELETE CASCADE,
         id uuid NOT NULL,
         requested_by uuid,
         requested_at timestamptz NOT NULL DEFAULT now(),
         completed_at timestamptz,
         PRIMARY KEY (tenant_id, id))`,
      `CREATE TABLE tenancy.export_parts (
         tenant_id uuid NOT NULL,
         export_id uuid NOT NULL,
         subgraph text NOT NULL,
         data jsonb NOT NULL,
         PRIMARY KEY (tenant_id, export_id, subgraph),
         FOREIGN KEY (tenant_id, export_id) REFERENCES tenancy.exports (tenant_id, id) ON DELETE CASCADE)`,
      ...tenantTableSql('tenancy.exports', { privileges: 'SELECT, INSERT' }),
      ...tenantTableSql('tenancy.export_parts', { privileges: 'SELECT' }),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [`DROP TABLE tenancy.export_parts`, `DROP TABLE tenancy.exports`]);
  }
}
