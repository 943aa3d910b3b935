import { randomUUID } from 'node:crypto';
import type { DatabaseHandle } from '../kernel/db/database';
import { prepareDatabase } from '../kernel/db/bootstrap';
import { PostgresEventBus } from '../kernel/event-bus';
import type { DomainEvent } from '../kernel/events';
import { freshDatabase } from './support/platform';

let db: DatabaseHandle;
const buses: PostgresEventBus[] = [];
const bus = () => {
  const b = new PostgresEventBus(db.url, 50);
  buses.push(b);
  return b;
};
const event = (type: string, n: number): DomainEvent => ({
  id: randomUUID(),
  type,
  tenantId: null,
  payload: { n },
  occurredAt: new Date().toISOString(),
  source: 'test',
});
const until = async (check: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

beforeAll(async () => {
  db = await freshDatabase();
  await prepareDatabase(db.url);
});
afterAll(async () => {
  for (const b of buses) await b.close();
  await db?.stop();
});

describe('PostgreSQL event bus', () => {
  it('delivers each event once per consumer group, in order, across two instances of the same group', async () => {
    const seen: number[] = [];
    const other: number[] = [];
    const a = bus();
    const b = bus();
    a.subscribe('g1', ['t.one'], async (e) => void seen.push(e.payload.n as number));
    b.subscribe('g1', ['t.one'], async (e) => void seen.push(e.payload.n as number));
    b.subscribe('g2', ['t.one'], async (e) => void other.push(e.payload.n as number));
    const events = Array.from({ length: 30 }, (_, i) => event('t.one', i));
    for (const e of events) await ((e.payload.n as number) % 2 ? a.publish(e) : b.publish(e));
    expect(await a.waitConsumed(events.map((e) => e.id))).toBe(true);
    expect(seen).toEqual(events.map((_, i) => i));
    expect(other).toEqual(events.map((_, i) => i));
  });

  it('retries a failed delivery with backoff and loses nothing', async () => {
    const b = bus();
    let attempts = 0;
    const handled: number[] = [];
    b.subscribe('flaky', ['t.flaky'], async (e) => {
      attempts++;
      if (attempts < 3) throw new Error('handler crashed');
      handled.push(e.payload.n as number);
    });
    const e1 = event('t.flaky', 1);
    const e2 = event('t.flaky', 2);
    await b.publish(e1);
    await b.publish(e2);
    expect(await b.waitConsumed([e1.id, e2.id], 10_000)).toBe(true);
    expect(handled).toEqual([1, 2]);
    expect(attempts).toBe(4);
  });

  it('gives a consumer group that starts late every event published before it existed', async () => {
    const publisher = bus();
    const early = [event('t.late', 1), event('t.late', 2)];
    for (const e of early) await publisher.publish(e);
    const got: number[] = [];
    bus().subscribe('late-group', ['t.late'], async (e) => void got.push(e.payload.n as number));
    await until(() => got.length === 2);
    expect(got).toEqual([1, 2]);
  });

  it('ignores a republished event id (the relay may publish twice after a crash)', async () => {
    const b = bus();
    const got: string[] = [];
    b.subscribe('dedupe', ['t.dup'], async (e) => void got.push(e.id));
    const e = event('t.dup', 1);
    await b.publish(e);
    await b.publish(e);
    expect(await b.waitConsumed([e.id])).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual([e.id]);
  });
});
