import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import type { DatabaseHandle } from '../kernel/db/database';
import { prepareDatabase } from '../kernel/db/bootstrap';
import { PostgresEventBus, type EventBusOptions } from '../kernel/event-bus';
import { RedisStreamsEventBus } from '../kernel/redis-event-bus';
import type { DomainEvent } from '../kernel/events';
import { freshDatabase } from './support/platform';
import { dropRedisKeys } from './support/redis';

let db: DatabaseHandle;
const run = randomUUID().slice(0, 8);
/** This run's own Redis keys: a Redis server outlives test runs and may be shared with other runs. */
const prefix = `nexus-test-${run}:`;
const transports = [
  ['PostgreSQL', (options: EventBusOptions) => new PostgresEventBus(db.url, options)],
  ...(process.env.REDIS_URL
    ? [
        [
          'Redis Streams',
          (options: EventBusOptions) => new RedisStreamsEventBus(process.env.REDIS_URL!, { ...options, prefix }),
        ],
      ]
    : []),
] as [string, (options: EventBusOptions) => PostgresEventBus | RedisStreamsEventBus][];
const buses: (PostgresEventBus | RedisStreamsEventBus)[] = [];
let transport: (typeof transports)[number][1];
const bus = (options: EventBusOptions = {}) => {
  const b = transport({ pollMs: 50, ...options });
  buses.push(b);
  return b;
};
/** Types and groups are unique per run and transport: a Redis server outlives test runs. */
let scope = '';
const event = (type: string, n: number): DomainEvent => ({
  id: randomUUID(),
  type: `${type}.${scope}`,
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
  await dropRedisKeys(prefix); // this run's streams, leases and dead letters
});

describe.each(transports)('%s event bus', (name, factory) => {
  beforeAll(() => {
    transport = factory;
    scope = `${run}.${name.replace(/\W/g, '')}`;
  });
  const T = (type: string) => `${type}.${scope}`;
  const G = (group: string) => `${group}.${scope}`;

  it('delivers each event once per consumer group, in order, across two instances of the same group', async () => {
    const seen: number[] = [];
    const other: number[] = [];
    const a = bus();
    const b = bus();
    a.subscribe(G('g1'), [T('t.one')], async (e) => void seen.push(e.payload.n as number));
    b.subscribe(G('g1'), [T('t.one')], async (e) => void seen.push(e.payload.n as number));
    b.subscribe(G('g2'), [T('t.one')], async (e) => void other.push(e.payload.n as number));
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
    b.subscribe(G('flaky'), [T('t.flaky')], async (e) => {
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

  it('redelivers an event whose consumer crashed mid-event, once its lease runs out', async () => {
    const crashed = bus({ leaseMs: 400 });
    const survivor = bus({ leaseMs: 400 });
    const started: string[] = [];
    const handled: string[] = [];
    // The first instance takes the event and never finishes (as if its process died).
    crashed.subscribe(G('crashy'), [T('t.crash')], (e) => {
      started.push(e.id);
      return new Promise<void>(() => undefined);
    });
    const e = event('t.crash', 1);
    await crashed.publish(e);
    await until(() => started.length === 1);
    survivor.subscribe(G('crashy'), [T('t.crash')], async (ev) => void handled.push(ev.id));
    await until(() => handled.length === 1, 5000);
    expect(handled).toEqual([e.id]);
    expect(await survivor.waitConsumed([e.id])).toBe(true);
  });

  it('moves an event that keeps failing to the dead letters and goes on with the next', async () => {
    const b = bus({ maxAttempts: 3 });
    const handled: number[] = [];
    b.subscribe(G('poisoned'), [T('t.poison')], async (e) => {
      if (e.payload.n === 1) throw new Error('cannot handle this one');
      handled.push(e.payload.n as number);
    });
    const poison = event('t.poison', 1);
    const fine = event('t.poison', 2);
    await b.publish(poison);
    await b.publish(fine);
    expect(await b.waitConsumed([poison.id, fine.id], 15_000)).toBe(true);
    expect(handled).toEqual([2]);
    const dead = (await b.deadLetters()).filter((d) => d.consumerGroup === G('poisoned'));
    expect(dead).toEqual([
      expect.objectContaining({
        eventId: poison.id,
        type: T('t.poison'),
        attempts: 3,
        lastError: 'cannot handle this one',
      }),
    ]);
  });

  it('gives a consumer group that starts late every event published before it existed', async () => {
    const publisher = bus();
    const early = [event('t.late', 1), event('t.late', 2)];
    for (const e of early) await publisher.publish(e);
    const got: number[] = [];
    bus().subscribe(G('late-group'), [T('t.late')], async (e) => void got.push(e.payload.n as number));
    await until(() => got.length === 2);
    expect(got).toEqual([1, 2]);
  });

  it('ignores a republished event id (the relay may publish twice after a crash)', async () => {
    const b = bus();
    const got: string[] = [];
    b.subscribe(G('dedupe'), [T('t.dup')], async (e) => void got.push(e.id));
    const e = event('t.dup', 1);
    await b.publish(e);
    await b.publish(e);
    expect(await b.waitConsumed([e.id])).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual([e.id]);
  });
});

(process.env.REDIS_URL ? describe : describe.skip)('Redis Streams event bus prefix (REDIS_PREFIX)', () => {
  it('keeps two deployments on one Redis apart: same event types and groups, separate streams and positions', async () => {
    const other = `nexus-test-${run}-other:`;
    const ours = new RedisStreamsEventBus(process.env.REDIS_URL!, { pollMs: 50, prefix });
    const theirs = new RedisStreamsEventBus(process.env.REDIS_URL!, { pollMs: 50, prefix: other });
    buses.push(ours, theirs);
    scope = `${run}.prefix`;
    const seenByUs: number[] = [];
    const seenByThem: number[] = [];
    ours.subscribe(`group.${scope}`, [`t.shared.${scope}`], async (e) => void seenByUs.push(e.payload.n as number));
    theirs.subscribe(`group.${scope}`, [`t.shared.${scope}`], async (e) => void seenByThem.push(e.payload.n as number));
    await ours.publish(event('t.shared', 1));
    await theirs.publish(event('t.shared', 2));
    await until(() => seenByUs.length === 1 && seenByThem.length === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(seenByUs).toEqual([1]);
    expect(seenByThem).toEqual([2]);
    const redis = new Redis(process.env.REDIS_URL!);
    try {
      expect(await redis.exists(`${prefix}events:t.shared.${scope}`, `${other}events:t.shared.${scope}`)).toBe(2);
      const leaked = (await redis.keys(`*${scope}*`)).filter((k) => !k.startsWith(prefix) && !k.startsWith(other));
      expect(leaked).toEqual([]);
    } finally {
      redis.disconnect();
      await dropRedisKeys(other);
    }
  });
});
