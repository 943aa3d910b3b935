import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';

/**
 * The domains each tenant has verified (learnt from tenancy's `tenancy.domain_verified` / `domain_released` events;
 * `as_of` keeps the latest of them whatever order they arrive in): the only e-mail domains its identity providers
 * may sign in.
 */
export class IdentityTenantDomains1765600300000 implements MigrationInterface {
  name = 'IdentityTenantDomains1765600300000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE identity.tenant_domains (
         tenant_id uuid NOT NULL,
         domain text NOT NULL,
         verified boolean NOT NULL,
         as_of timestamptz NOT NULL,
         PRIMARY KEY (tenant_id, domain))`,
      ...tenantTableSql('identity.tenant_domains', { privileges: 'SELECT' }),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [`DROP TABLE identity.tenant_domains`]);
  }
}
