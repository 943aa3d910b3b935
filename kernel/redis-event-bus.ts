import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import type { DomainEvent, EventBus } from './events';
import type { DeadLetter, EventBusOptions } from './event-bus';
import { logger } from './log';
import { DEFAULT_REDIS_PREFIX } from './config';

const INDEX_TTL_SECONDS = 7 * 24 * 3600;
/** Streams are trimmed (approximately) to this many entries: a consumer may lag behind by at most that much. */
const STREAM_MAX_LENGTH = 1_000_000;

/** Appends once per event id (the relay may publish the same event twice after a crash). */
const PUBLISH_ONCE = `
if redis.call('SET', KEYS[2], 'pending', 'NX', 'EX', ARGV[3]) then
  local entry = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', 'event', ARGV[1])
  redis.call('SET', KEYS[2], KEYS[1] .. '|' .. entry, 'EX', ARGV[3])
  return entry
end
return false`;

/** Takes or renews the group's lease when free or already ours. */
const LEASE = `
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

interface Loop {
  group: string;
  stream: string;
  deliver: (event: DomainEvent) => Promise<void>;
  connection: Redis;
  failures: number;
  retryAt: number;
}

/** The bus's Redis keys under a deployment's prefix. */
function busKeys(prefix: string) {
  return {
    stream: (type: string) => `${prefix}events:${type}`,
    eventIndex: (id: string) => `${prefix}event:${id}`,
    lease: (group: string, stream: string) => `${prefix}lease:${group}:${stream}`,
    deadLetters: `${prefix}dead-letters`,
  };
}

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
}

/**
 * The event bus on Redis Streams (with REDIS_URL): one stream per event type, one Redis consumer group
 * per consumer group. One instance at a time reads for a group (a lease renewed while it runs), so a
 * group sees events in order. Entries are acknowledged (XACK) only after the handler succeeded; a
 * failed entry is retried with backoff, entries left pending by a crashed instance are claimed
 * (XAUTOCLAIM) once its lease ran out, and after `maxAttempts` deliveries an entry moves to the
 * `<prefix>dead-letters` stream. Every key starts with the prefix (REDIS_PREFIX, `nexus:` by default), so
 * deployments sharing one Redis keep apart.
 */
export class RedisStreamsEventBus implements EventBus {
  private readonly redis: Redis;
  private readonly loops: Loop[] = [];
  private readonly consumer = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly log = logger('events.redis');
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly maxAttempts: number;
  private closed = false;
  private readonly running = new Set<Promise<void>>();
  private readonly keys: ReturnType<typeof busKeys>;

  constructor(
    private readonly url: string,
    options: EventBusOptions & { prefix?: string } = {},
  ) {
    this.keys = busKeys(options.prefix ?? DEFAULT_REDIS_PREFIX);
    this.redis = new Redis(url, { maxRetriesPerRequest: 3 });
    this.redis.on('error', (err) => this.log.warn({ err }, 'redis connection error'));
    this.pollMs = options.pollMs ?? 500;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.maxAttempts = options.maxAttempts ?? 10;
  }

  async publish(event: DomainEvent): Promise<void> {
    await this.redis.eval(
      PUBLISH_ONCE,
      2,
      this.keys.stream(event.type),
      this.keys.eventIndex(event.id),
      JSON.stringify(event),
      event.id,
      INDEX_TTL_SECONDS,
      STREAM_MAX_LENGTH,
    );
  }

  subscribe(group: string, types: string[], deliver: (event: DomainEvent) => Promise<void>): void {
    for (const type of types) {
      const connection = new Redis(this.url, { maxRetriesPerRequest: null });
      connection.on('error', (err) => this.log.warn({ err }, 'redis connection error'));
      const loop: Loop = { group, stream: this.keys.stream(type), deliver, connection, failures: 0, retryAt: 0 };
      this.loops.push(loop);
      const run = this.run(loop).catch((err) => this.log.error({ err, group, type }, 'consumer loop stopped'));
      this.running.add(run);
      void run.finally(() => this.running.delete(run));
    }
  }

  private async run(loop: Loop): Promise<void> {
    // From the beginning of the stream: a group that starts late still gets every event.
    await loop.connection.xgroup('CREATE', loop.stream, loop.group, '0', 'MKSTREAM').catch((err: Error) => {
      if (!/BUSYGROUP/.test(err.message)) throw err;
    });
    let lastClaim = 0;
    const leaseKey = this.keys.lease(loop.group, loop.stream);
    while (!this.closed) {
      try {
        if (!(await loop.connection.eval(LEASE, 1, leaseKey, this.consumer, this.leaseMs))) {
          await new Promise((r) => setTimeout(r, this.pollMs)); // another instance reads for this group
          continue;
        }
        if (Date.now() - lastClaim >= Math.min(this.leaseMs / 2, 1_000)) {
          lastClaim = Date.now();
          await this.reclaim(loop);
        }
        if (loop.failures > 0) {
          if (Date.now() < loop.retryAt) {
            await new Promise((r) => setTimeout(r, Math.min(this.pollMs, loop.retryAt - Date.now())));
            continue;
          }
          await this.retryOwn(loop);
          if (loop.failures > 0) continue; // keep order: nothing new until the failed entry is through
        }
        const read = (await loop.connection.xreadgroup(
          'GROUP',
          loop.group,
          this.consumer,
          'COUNT',
          100,
          'BLOCK',
          Math.min(this.pollMs, this.leaseMs / 3),
          'STREAMS',
          loop.stream,
          '>',
        )) as [string, [string, string[]][]][] | null;
        for (const [, entries] of read ?? []) {
          for (const [entryId, fields] of entries) if (!(await this.handle(loop, entryId, fields, 1))) break;
        }
      } catch (err) {
        if (this.closed) return;
        this.log.warn({ err, group: loop.group }, 'consumer loop error; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** Delivers again what this instance read but could not handle (its own pending entries), in order. */
  private async retryOwn(loop: Loop): Promise<void> {
    const read = (await loop.connection.xreadgroup(
      'GROUP',
      loop.group,
      this.consumer,
      'COUNT',
      100,
      'STREAMS',
      loop.stream,
      '0',
    )) as [string, [string, string[] | null][]][] | null;
    const entries = read?.[0]?.[1] ?? [];
    if (!entries.length) {
      loop.failures = 0;
      return;
    }
    const pending = (await loop.connection.xpending(loop.stream, loop.group, '-', '+', 1000, this.consumer)) as [
      string,
      string,
      number,
      number,
    ][];
    const deliveries = new Map(pending.map(([id, , , count]) => [id, count]));
    for (const [entryId, fields] of entries) {
      if (!fields) continue;
      if (!(await this.handle(loop, entryId, fields, deliveries.get(entryId) ?? 1))) return;
    }
  }

  /** Takes over entries another (crashed) instance, or an earlier failed attempt, left unacknowledged. */
  private async reclaim(loop: Loop): Promise<void> {
    const [, entries] = (await loop.connection.xautoclaim(
      loop.stream,
      loop.group,
      this.consumer,
      this.leaseMs,
      '0',
      'COUNT',
      100,
    )) as [string, [string, string[]][]];
    if (!entries.length) return;
    const pending = (await loop.connection.xpending(loop.stream, loop.group, '-', '+', 1000, this.consumer)) as [
      string,
      string,
      number,
      number,
    ][];
    const deliveries = new Map(pending.map(([id, , , count]) => [id, count]));
    for (const [entryId, fields] of entries) {
      if (fields && !(await this.handle(loop, entryId, fields, deliveries.get(entryId) ?? 1))) return;
    }
  }

  /** Delivers one entry; false when it failed and stays pending for a retry. */
  private async handle(loop: Loop, entryId: string, fields: string[], attempt: number): Promise<boolean> {
    const raw = fields[fields.indexOf('event') + 1];
    const event = JSON.parse(raw) as DomainEvent;
    try {
      await loop.deliver(event);
      await loop.connection.xack(loop.stream, loop.group, entryId);
      loop.failures = 0;
      return true;
    } catch (err) {
      const message = String((err as Error)?.message ?? err).slice(0, 500);
      if (attempt < this.maxAttempts) {
        loop.failures++;
        loop.retryAt = Date.now() + Math.min(30_000, 250 * 2 ** loop.failures);
        this.log.warn({ err, group: loop.group, eventId: event.id, attempt }, 'delivery failed; will retry');
        return false;
      }
      this.log.error({ err, group: loop.group, eventId: event.id, attempt }, 'event moved to dead letters');
      await loop.connection.xadd(
        this.keys.deadLetters,
        '*',
        'group',
        loop.group,
        'event',
        raw,
        'attempts',
        String(attempt),
        'error',
        message,
      );
      await loop.connection.xack(loop.stream, loop.group, entryId);
      loop.failures = 0;
      return true;
    }
  }

  async waitConsumed(eventIds: string[], timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const locations = await Promise.all(eventIds.map((id) => this.redis.get(this.keys.eventIndex(id))));
    for (const location of locations) {
      if (!location || location === 'pending') continue;
      const [stream, entryId] = location.split('|');
      for (;;) {
        if (await this.consumedByAll(stream, entryId)) break;
        if (this.closed || Date.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    return true;
  }

  private async consumedByAll(stream: string, entryId: string): Promise<boolean> {
    const groups = (await this.redis.xinfo('GROUPS', stream)) as (string | number)[][];
    for (const info of groups) {
      const fields = new Map<string, string | number>();
      for (let i = 0; i < info.length; i += 2) fields.set(String(info[i]), info[i + 1]);
      const name = String(fields.get('name'));
      const lastDelivered = String(fields.get('last-delivered-id'));
      if (compareIds(lastDelivered, entryId) < 0) return false;
      const pending = (await this.redis.xpending(stream, name, entryId, entryId, 1)) as unknown[];
      if (pending.length > 0) return false;
    }
    return true;
  }

  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    const entries = (await this.redis.xrevrange(this.keys.deadLetters, '+', '-', 'COUNT', limit)) as [
      string,
      string[],
    ][];
    return entries.map(([entryId, fields]) => {
      const get = (k: string) => fields[fields.indexOf(k) + 1];
      const event = JSON.parse(get('event')) as DomainEvent;
      return {
        consumerGroup: get('group'),
        eventId: event.id,
        type: event.type,
        attempts: Number(get('attempts')),
        lastError: get('error') ?? null,
        failedAt: new Date(Number(entryId.split('-')[0])),
      };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    // Blocked reads return within pollMs; a handler in progress gets the same bound.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.running]),
      new Promise((r) => (timer = setTimeout(r, Math.min(5_000, this.leaseMs)))),
    ]);
    clearTimeout(timer);
    for (const loop of this.loops) {
      const leaseKey = this.keys.lease(loop.group, loop.stream);
      await this.redis
        .eval(
          `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
          1,
          leaseKey,
          this.consumer,
        )
        .catch(() => 0);
      loop.connection.disconnect();
    }
    this.redis.disconnect();
  }
}
