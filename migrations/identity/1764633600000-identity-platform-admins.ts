import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, userTableSql } from '../../kernel/db/rls';

/** Platform Super Admins granted over the API (those named in configuration need no row). */
export class IdentityPlatformAdmins1764633600000 implements MigrationInterface {
  name = 'IdentityPlatformAdmins1764633600000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE identity.platform_admins (
         user_id uuid PRIMARY KEY REFERENCES identity.users (id) ON DELETE CASCADE,
         granted_at timestamptz NOT NULL DEFAULT now(),
         granted_by uuid
       )`,
      // The runtime role sees only the caller's own row; granting and listing go through the system path.
      ...userTableSql('identity.platform_admins', 'SELECT'),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE identity.platform_admins`);
  }
}
