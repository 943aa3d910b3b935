import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { consumer, type EventPayload } from '../kernel/contracts/events';
import { prepareDatabase } from '../kernel/db/bootstrap';
import type { DatabaseHandle } from '../kernel/db/database';
import { createSubgraphDataSource } from '../kernel/db/data-source';
import { withSystem } from '../kernel/db/tenant-scope';
import { PostgresEventBus } from '../kernel/event-bus';
import { OutboxRelay, attachConsumers, recordEvent } from '../kernel/events';
import { JobRunner, scheduleJob } from '../kernel/jobs';
import { freshDatabase } from './support/platform';

/**
 * Events between subgraphs are checked against their type's schema (kernel/contracts/events.ts): when
 * recorded, and again on receipt, so a payload that does not match never reaches a consumer.
 */
let db: DatabaseHandle;
let tenancy: DataSource;
let identity: DataSource;
let bus: PostgresEventBus;
let relay: OutboxRelay;
const handled: EventPayload<'tenancy.domain_verified'>[] = [];

beforeAll(async () => {
  db = await freshDatabase();
  await prepareDatabase(db.url);
  const source = (schema: string) =>
    createSubgraphDataSource({ url: db.url, schema, entities: [], migrations: [], poolSize: 2 });
  [tenancy, identity] = await Promise.all([source('tenancy').initialize(), source('identity').initialize()]);
  // Given up on after two failed deliveries (ten by default, over minutes).
  bus = new PostgresEventBus(db.url, { pollMs: 50, maxAttempts: 2 });
  relay = new OutboxRelay(tenancy, 'tenancy', bus);
  attachConsumers(identity, 'identity', bus, [
    consumer({
      name: 'contract-check',
      types: ['tenancy.domain_verified'],
      handle: async (event) => void handled.push(event.payload),
    }),
  ]);
});

afterAll(async () => {
  await relay?.stop();
  await bus?.close();
  await Promise.all([tenancy?.destroy(), identity?.destroy()]);
  await db?.stop();
});

/** Writes an outbox row as the database owner, past `recordEvent` and its checks (a bug, an old producer…). */
async function insertOutboxRow(tenantId: string, type: string, payload: unknown): Promise<string> {
  const id = randomUUID();
  const owner = new Client({ connectionString: db.url });
  await owner.connect();
  try {
    await owner.query(`INSERT INTO tenancy.outbox (id, tenant_id, type, payload) VALUES ($1, $2, $3, $4)`, [
      id,
      tenantId,
      type,
      JSON.stringify(payload),
    ]);
  } finally {
    await owner.end();
  }
  return id;
}

it('never hands a consumer an event whose payload does not match its schema, and dead-letters it', async () => {
  const tenantId = randomUUID();
  const malformed = await insertOutboxRow(tenantId, 'tenancy.domain_verified', { tenantId, domian: 'a.example' });
  const good = await withSystem(tenancy, 'test', (em) =>
    recordEvent(em, 'tenancy', {
      type: 'tenancy.domain_verified',
      tenantId,
      payload: { tenantId, domain: 'b.example' },
    }),
  );
  await relay.flush();
  expect(await bus.waitConsumed([malformed, good], 20_000)).toBe(true);

  expect(handled).toEqual([{ tenantId, domain: 'b.example' }]);
  const dead = (await bus.deadLetters()).filter((d) => d.eventId === malformed);
  expect(dead).toEqual([
    expect.objectContaining({
      consumerGroup: 'identity.contract-check',
      type: 'tenancy.domain_verified',
      attempts: 2,
      lastError: expect.stringContaining('does not match its schema'),
    }),
  ]);
  const processed: unknown[] = await withSystem(identity, 'test', (em) =>
    em.query(`SELECT 1 FROM identity.processed_events WHERE event_id = $1`, [malformed]),
  );
  expect(processed).toEqual([]);
});

it('fails the producer in its own transaction when its payload does not match', async () => {
  const tenantId = randomUUID();
  let recorded: string | undefined;
  const attempt = withSystem(tenancy, 'test', async (em) => {
    recorded = await recordEvent(em, 'tenancy', {
      type: 'tenancy.domain_verified',
      tenantId,
      // What the compiler refuses: a payload as another version of the code might send it.
      payload: { tenantId, domian: 'c.example' } as never,
    });
  });
  await expect(attempt).rejects.toThrow(/domain/);
  expect(recorded).toBeUndefined();
  const rows: unknown[] = await withSystem(tenancy, 'test', (em) =>
    em.query(`SELECT 1 FROM tenancy.outbox WHERE tenant_id = $1`, [tenantId]),
  );
  expect(rows).toEqual([]);
});

it('never hands a job handler a payload that does not match its schema', async () => {
  const seen: string[] = [];
  const runner = new JobRunner(
    tenancy,
    'tenancy',
    { 'trial-expiry': async ({ tenantId }) => void seen.push(tenantId) },
    60_000,
  );
  const tenantId = randomUUID();
  const owner = new Client({ connectionString: db.url });
  await owner.connect();
  try {
    // Past `scheduleJob` and its checks: a row another version of the code might have written.
    await owner.query(
      `INSERT INTO tenancy.jobs (id, name, key, payload, run_at) VALUES ($1, 'trial-expiry', $2, $3, now())`,
      [randomUUID(), `malformed:${tenantId}`, JSON.stringify({ tenant: tenantId })],
    );
    await withSystem(tenancy, 'test', (em) =>
      scheduleJob(em, 'tenancy', {
        name: 'trial-expiry',
        key: `good:${tenantId}`,
        runAt: new Date(),
        payload: { tenantId },
      }),
    );
    await runner.runDue();
    expect(seen).toEqual([tenantId]);
    const { rows } = await owner.query(
      `SELECT key, done_at IS NOT NULL AS done, last_error FROM tenancy.jobs WHERE key LIKE $1 ORDER BY key`,
      [`%:${tenantId}`],
    );
    expect(rows).toEqual([
      { key: `good:${tenantId}`, done: true, last_error: null },
      { key: `malformed:${tenantId}`, done: false, last_error: expect.stringContaining('does not match its schema') },
    ]);
  } finally {
    await owner.end();
  }
});
