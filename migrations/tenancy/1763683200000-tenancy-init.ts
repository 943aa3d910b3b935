import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';
import { eventTablesSql } from '../../kernel/events';

export class TenancyInit1763683200000 implements MigrationInterface {
  name = 'TenancyInit1763683200000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE tenancy.tenants (
         tenant_id uuid PRIMARY KEY,
         name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
         slug text NOT NULL CHECK (slug ~ '^[a-z0-9-]{1,64}$'),
         status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
         created_at timestamptz NOT NULL DEFAULT now())`,
      `CREATE UNIQUE INDEX tenants_slug_key ON tenancy.tenants (slug)`,
      `CREATE TABLE tenancy.memberships (
         tenant_id uuid NOT NULL REFERENCES tenancy.tenants (tenant_id) ON DELETE CASCADE,
         user_id uuid NOT NULL,
         role text NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, user_id))`,
      ...tenantTableSql('tenancy.tenants', { privileges: 'SELECT, UPDATE' }),
      ...tenantTableSql('tenancy.memberships'),
      ...eventTablesSql('tenancy'),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP TABLE tenancy.processed_events`,
      `DROP TABLE tenancy.outbox`,
      `DROP TABLE tenancy.memberships`,
      `DROP TABLE tenancy.tenants`,
    ]);
  }
}
