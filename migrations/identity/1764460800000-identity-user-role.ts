import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll } from '../../kernel/db/rls';

/** The system role `user`: an end user of the tenant's product, with the fewest rights. */
export class IdentityUserRole1764460800000 implements MigrationInterface {
  name = 'IdentityUserRole1764460800000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `ALTER TABLE identity.memberships DROP CONSTRAINT memberships_role_check`,
      `ALTER TABLE identity.memberships ADD CONSTRAINT memberships_role_check CHECK (role IN ('owner', 'admin', 'member', 'user'))`,
      `ALTER TABLE identity.invitations DROP CONSTRAINT invitations_role_check`,
      `ALTER TABLE identity.invitations ADD CONSTRAINT invitations_role_check CHECK (role IN ('admin', 'member', 'user'))`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `ALTER TABLE identity.invitations DROP CONSTRAINT invitations_role_check`,
      `ALTER TABLE identity.invitations ADD CONSTRAINT invitations_role_check CHECK (role IN ('admin', 'member'))`,
      `ALTER TABLE identity.memberships DROP CONSTRAINT memberships_role_check`,
      `ALTER TABLE identity.memberships ADD CONSTRAINT memberships_role_check CHECK (role IN ('owner', 'admin', 'member'))`,
    ]);
  }
}
