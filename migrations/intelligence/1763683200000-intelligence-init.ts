import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';
import { eventTablesSql } from '../../kernel/events';

export class IntelligenceInit1763683200000 implements MigrationInterface {
  name = 'IntelligenceInit1763683200000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE intelligence.documents (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
         content text NOT NULL,
         embedded boolean NOT NULL DEFAULT false,
         embedding public.vector(384),
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, id))`,
      ...tenantTableSql('intelligence.documents'),
      ...eventTablesSql('intelligence'),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP TABLE intelligence.processed_events`,
      `DROP TABLE intelligence.outbox`,
      `DROP TABLE intelligence.documents`,
    ]);
  }
}
