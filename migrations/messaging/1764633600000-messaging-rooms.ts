import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';

/** Room types and members, and the tenant's people as messaging learns them from identity's events. */
export class MessagingRooms1764633600000 implements MigrationInterface {
  name = 'MessagingRooms1764633600000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `ALTER TABLE messaging.rooms
         ADD COLUMN type text NOT NULL DEFAULT 'general' CHECK (type IN ('general', 'support', 'dm', 'alliance')),
         ADD COLUMN archived_at timestamptz,
         ADD COLUMN dm_key text,
         ADD COLUMN support_user uuid`,
      `CREATE UNIQUE INDEX rooms_dm_key ON messaging.rooms (tenant_id, dm_key) WHERE dm_key IS NOT NULL`,
      `CREATE UNIQUE INDEX rooms_support_user ON messaging.rooms (tenant_id, support_user) WHERE support_user IS NOT NULL`,
      `CREATE TABLE messaging.room_members (
         tenant_id uuid NOT NULL,
         room_id uuid NOT NULL,
         user_id uuid NOT NULL,
         role text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
         joined_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, room_id, user_id),
         FOREIGN KEY (tenant_id, room_id) REFERENCES messaging.rooms (tenant_id, id) ON DELETE CASCADE)`,
      `CREATE TABLE messaging.tenant_members (
         tenant_id uuid NOT NULL,
         user_id uuid NOT NULL,
         PRIMARY KEY (tenant_id, user_id))`,
      ...tenantTableSql('messaging.room_members'),
      ...tenantTableSql('messaging.tenant_members', { privileges: 'SELECT' }),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP TABLE messaging.tenant_members`,
      `DROP TABLE messaging.room_members`,
      `ALTER TABLE messaging.rooms DROP COLUMN support_user, DROP COLUMN dm_key, DROP COLUMN archived_at, DROP COLUMN type`,
    ]);
  }
}
