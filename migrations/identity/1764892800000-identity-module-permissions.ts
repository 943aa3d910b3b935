import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';

/** Permissions the modules a tenant installed add (learnt from tenancy's events). */
export class IdentityModulePermissions1764892800000 implements MigrationInterface {
  name = 'IdentityModulePermissions1764892800000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE identity.tenant_module_permissions (
         tenant_id uuid NOT NULL,
         module_id text NOT NULL,
         permissions text[] NOT NULL,
         PRIMARY KEY (tenant_id, module_id))`,
      ...tenantTableSql('identity.tenant_module_permissions', { privileges: 'SELECT' }),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE identity.tenant_module_permissions`);
  }
}
