import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';
import { eventTablesSql } from '../../kernel/events';

export class LedgerInit1763683200000 implements MigrationInterface {
  name = 'LedgerInit1763683200000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE ledger.entries (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         sequence bigint NOT NULL CHECK (sequence > 0),
         account text NOT NULL,
         amount_cents bigint NOT NULL CHECK (amount_cents <> 0),
         memo text NOT NULL DEFAULT '',
         prev_hash text NOT NULL,
         hash text NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, id),
         UNIQUE (tenant_id, sequence))`,
      // Append-only: the runtime role may read and insert, never update or delete.
      ...tenantTableSql('ledger.entries', { privileges: 'SELECT, INSERT' }),
      ...eventTablesSql('ledger'),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [`DROP TABLE ledger.processed_events`, `DROP TABLE ledger.outbox`, `DROP TABLE ledger.entries`]);
  }
}
