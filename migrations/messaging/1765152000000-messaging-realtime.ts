import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';

/**
 * Read pointers and receipt policy, presence per device, moderation (sanctions and their log), system
 * messages and the inbound webhooks that post them.
 */
export class MessagingRealtime1765152000000 implements MigrationInterface {
  name = 'MessagingRealtime1765152000000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `ALTER TABLE messaging.rooms ADD COLUMN read_receipts text CHECK (read_receipts IN ('public', 'private'))`,
      `ALTER TABLE messaging.messages
         ALTER COLUMN author_id DROP NOT NULL,
         ADD COLUMN sender_name text CHECK (length(sender_name) BETWEEN 1 AND 80),
         ADD CONSTRAINT messages_author_or_sender CHECK (author_id IS NOT NULL OR sender_name IS NOT NULL)`,
      // Each member's tenant role (from identity's events): moderators cannot sanction those above them.
      `ALTER TABLE messaging.tenant_members ADD COLUMN role text`,
      `CREATE TABLE messaging.tenant_settings (
         tenant_id uuid PRIMARY KEY,
         read_receipts text NOT NULL DEFAULT 'public' CHECK (read_receipts IN ('public', 'private')))`,
      `CREATE TABLE messaging.room_reads (
         tenant_id uuid NOT NULL,
         room_id uuid NOT NULL,
         user_id uuid NOT NULL,
         message_id uuid NOT NULL,
         message_at timestamptz NOT NULL,
         read_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, room_id, user_id),
         FOREIGN KEY (tenant_id, room_id) REFERENCES messaging.rooms (tenant_id, id) ON DELETE CASCADE,
         FOREIGN KEY (tenant_id, message_id) REFERENCES messaging.messages (tenant_id, id) ON DELETE CASCADE)`,
      `CREATE TABLE messaging.presence_devices (
         tenant_id uuid NOT NULL,
         user_id uuid NOT NULL,
         device_id text NOT NULL CHECK (length(device_id) BETWEEN 1 AND 100),
         connection_id text,
         status text NOT NULL CHECK (status IN ('online', 'away')),
         page text CHECK (length(page) <= 300),
         updated_at timestamptz NOT NULL DEFAULT now(),
         expires_at timestamptz NOT NULL,
         PRIMARY KEY (tenant_id, user_id, device_id))`,
      `CREATE INDEX presence_devices_expiry_idx ON messaging.presence_devices (expires_at)`,
      `CREATE INDEX presence_devices_connection_idx ON messaging.presence_devices (connection_id) WHERE connection_id IS NOT NULL`,
      `CREATE TABLE messaging.room_sanctions (
         tenant_id uuid NOT NULL,
         room_id uuid NOT NULL,
         user_id uuid NOT NULL,
         kind text NOT NULL CHECK (kind IN ('mute', 'ban')),
         until timestamptz,
         reason text NOT NULL,
         actor_id uuid NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, room_id, user_id, kind),
         FOREIGN KEY (tenant_id, room_id) REFERENCES messaging.rooms (tenant_id, id) ON DELETE CASCADE)`,
      `CREATE TABLE messaging.moderation_log (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         room_id uuid,
         action text NOT NULL,
         actor_id uuid NOT NULL,
         impersonator_id uuid,
         target_user_id uuid,
         message_id uuid,
         reason text NOT NULL,
         until timestamptz,
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, id))`,
      `CREATE INDEX moderation_log_recent_idx ON messaging.moderation_log (tenant_id, created_at DESC, id DESC)`,
      `CREATE TABLE messaging.webhooks (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         room_id uuid NOT NULL,
         name text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
         secret_sealed text NOT NULL,
         created_by uuid NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, id),
         FOREIGN KEY (tenant_id, room_id) REFERENCES messaging.rooms (tenant_id, id) ON DELETE CASCADE)`,
      `CREATE TABLE messaging.webhook_deliveries (
         tenant_id uuid NOT NULL,
         webhook_id uuid NOT NULL,
         signature text NOT NULL,
         received_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, webhook_id, signature),
         FOREIGN KEY (tenant_id, webhook_id) REFERENCES messaging.webhooks (tenant_id, id) ON DELETE CASCADE)`,
      ...tenantTableSql('messaging.tenant_settings', { privileges: 'SELECT' }),
      ...tenantTableSql('messaging.room_reads'),
      ...tenantTableSql('messaging.presence_devices'),
      ...tenantTableSql('messaging.room_sanctions'),
      ...tenantTableSql('messaging.moderation_log', { privileges: 'SELECT, INSERT' }),
      ...tenantTableSql('messaging.webhooks'),
      ...tenantTableSql('messaging.webhook_deliveries'),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP TABLE messaging.webhook_deliveries`,
      `DROP TABLE messaging.webhooks`,
      `DROP TABLE messaging.moderation_log`,
      `DROP TABLE messaging.room_sanctions`,
      `DROP TABLE messaging.presence_devices`,
      `DROP TABLE messaging.room_reads`,
      `DROP TABLE messaging.tenant_settings`,
      `DELETE FROM messaging.messages WHERE author_id IS NULL`,
      `ALTER TABLE messaging.messages DROP CONSTRAINT messages_author_or_sender, DROP COLUMN sender_name, ALTER COLUMN author_id SET NOT NULL`,
      `ALTER TABLE messaging.rooms DROP COLUMN read_receipts`,
      `ALTER TABLE messaging.tenant_members DROP COLUMN role`,
    ]);
  }
}
