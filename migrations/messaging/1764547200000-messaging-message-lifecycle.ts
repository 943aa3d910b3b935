import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll } from '../../kernel/db/rls';

/** Idempotent sends (client message id), replies, edits and soft deletion of messages. */
export class MessagingMessageLifecycle1764547200000 implements MigrationInterface {
  name = 'MessagingMessageLifecycle1764547200000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `ALTER TABLE messaging.messages
         ADD COLUMN client_message_id text CHECK (length(client_message_id) BETWEEN 1 AND 100),
         ADD COLUMN reply_to_id uuid,
         ADD COLUMN edited_at timestamptz,
         ADD COLUMN deleted_at timestamptz,
         ADD COLUMN deleted_by uuid,
         ADD FOREIGN KEY (tenant_id, reply_to_id) REFERENCES messaging.messages (tenant_id, id)`,
      // A deleted message keeps its place in the history but not its text.
      `ALTER TABLE messaging.messages DROP CONSTRAINT messages_body_check`,
      `ALTER TABLE messaging.messages ADD CONSTRAINT messages_body_check CHECK (deleted_at IS NOT NULL OR length(body) BETWEEN 1 AND 4000)`,
      `CREATE UNIQUE INDEX messages_client_id_key ON messaging.messages (tenant_id, room_id, author_id, client_message_id) WHERE client_message_id IS NOT NULL`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP INDEX messaging.messages_client_id_key`,
      `ALTER TABLE messaging.messages DROP CONSTRAINT messages_body_check`,
      `ALTER TABLE messaging.messages ADD CONSTRAINT messages_body_check CHECK (length(body) BETWEEN 1 AND 4000)`,
      `ALTER TABLE messaging.messages DROP COLUMN deleted_by, DROP COLUMN deleted_at, DROP COLUMN edited_at, DROP COLUMN reply_to_id, DROP COLUMN client_message_id`,
    ]);
  }
}
