import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll } from '../../kernel/db/rls';

/**
 * A custom role an identity provider's group mapping gave: the grant names the connection, so each sign-in through
 * it can take back what the mapping no longer gives without touching roles an admin assigned by hand.
 */
export class IdentitySsoCustomRoles1765411200000 implements MigrationInterface {
  name = 'IdentitySsoCustomRoles1765411200000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [`ALTER TABLE identity.user_roles ADD COLUMN sso_connection_id uuid`]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [`ALTER TABLE identity.user_roles DROP COLUMN sso_connection_id`]);
  }
}
