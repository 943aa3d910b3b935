import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll } from '../../kernel/db/rls';

/** Gateways read the API keys revoked lately along with the sessions: their revocation time is indexed too. */
export class IdentityApiKeyRevocations1765584000000 implements MigrationInterface {
  name = 'IdentityApiKeyRevocations1765584000000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE INDEX api_keys_revoked_at_idx ON identity.api_keys (revoked_at) WHERE revoked_at IS NOT NULL`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [`DROP INDEX identity.api_keys_revoked_at_idx`]);
  }
}
