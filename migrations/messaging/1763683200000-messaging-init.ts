import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';
import { eventTablesSql } from '../../kernel/events';

export class MessagingInit1763683200000 implements MigrationInterface {
  name = 'MessagingInit1763683200000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE messaging.rooms (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         name text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
         created_by uuid NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, id))`,
      `CREATE TABLE messaging.messages (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         room_id uuid NOT NULL,
         author_id uuid NOT NULL,
         body text NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
         created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
         PRIMARY KEY (tenant_id, id),
         FOREIGN KEY (tenant_id, room_id) REFERENCES messaging.rooms (tenant_id, id) ON DELETE CASCADE)`,
      `CREATE INDEX messages_room_history_idx ON messaging.messages (tenant_id, room_id, created_at DESC, id DESC)`,
      ...tenantTableSql('messaging.rooms'),
      ...tenantTableSql('messaging.messages'),
      ...eventTablesSql('messaging'),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP TABLE messaging.processed_events`,
      `DROP TABLE messaging.outbox`,
      `DROP TABLE messaging.messages`,
      `DROP TABLE messaging.rooms`,
    ]);
  }
}
