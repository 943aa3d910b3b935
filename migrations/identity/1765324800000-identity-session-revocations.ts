import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll } from '../../kernel/db/rls';

/**
 * Gateways read the sessions revoked in the last few seconds every few seconds (and those of the last
 * access-token lifetime when they start): the revocation time is indexed, for revoked sessions only.
 */
export class IdentitySessionRevocations1765324800000 implements MigrationInterface {
  name = 'IdentitySessionRevocations1765324800000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE INDEX sessions_revoked_at_idx ON identity.sessions (revoked_at) WHERE revoked_at IS NOT NULL`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [`DROP INDEX identity.sessions_revoked_at_idx`]);
  }
}
