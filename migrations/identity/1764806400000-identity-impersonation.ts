import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll } from '../../kernel/db/rls';

/** Sessions a Super Admin opened in a tenant they do not belong to, and who acted under one in the audit log. */
export class IdentityImpersonation1764806400000 implements MigrationInterface {
  name = 'IdentityImpersonation1764806400000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `ALTER TABLE identity.sessions ADD COLUMN impersonator_id uuid, ADD COLUMN impersonation_reason text`,
      `ALTER TABLE identity.audit_events ADD COLUMN impersonator_id uuid`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `ALTER TABLE identity.audit_events DROP COLUMN impersonator_id`,
      `ALTER TABLE identity.sessions DROP COLUMN impersonation_reason, DROP COLUMN impersonator_id`,
    ]);
  }
}
