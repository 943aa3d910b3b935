import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll } from '../../kernel/db/rls';
import { jobTablesSql } from '../../kernel/jobs';

/** Trial periods and soft deletion with a grace period, both ended by durable jobs. */
export class TenancyTrialDeletion1764720000000 implements MigrationInterface {
  name = 'TenancyTrialDeletion1764720000000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      ...jobTablesSql('tenancy'),
      `ALTER TABLE tenancy.tenants ADD COLUMN trial_ends_at timestamptz, ADD COLUMN deleted_at timestamptz, ADD COLUMN purge_at timestamptz`,
      `ALTER TABLE tenancy.tenants DROP CONSTRAINT tenants_status_check`,
      `ALTER TABLE tenancy.tenants ADD CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended', 'trial_expired', 'deleted'))`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `ALTER TABLE tenancy.tenants DROP CONSTRAINT tenants_status_check`,
      `ALTER TABLE tenancy.tenants ADD CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended'))`,
      `ALTER TABLE tenancy.tenants DROP COLUMN purge_at, DROP COLUMN deleted_at, DROP COLUMN trial_ends_at`,
      `DROP FUNCTION tenancy.schedule_job(text, text, jsonb, timestamptz)`,
      `DROP TABLE tenancy.jobs`,
    ]);
  }
}
