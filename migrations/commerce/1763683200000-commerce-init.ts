import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';
import { eventTablesSql } from '../../kernel/events';

export class CommerceInit1763683200000 implements MigrationInterface {
  name = 'CommerceInit1763683200000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE commerce.products (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         name text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
         price_cents integer NOT NULL CHECK (price_cents >= 0),
         currency char(3) NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, id))`,
      ...tenantTableSql('commerce.products'),
      ...eventTablesSql('commerce'),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP TABLE commerce.processed_events`,
      `DROP TABLE commerce.outbox`,
      `DROP TABLE commerce.products`,
    ]);
  }
}
