import { EventEmitter } from 'node:events';
import Redis from 'ioredis';
import { logger } from './log';
import { DEFAULT_REDIS_PREFIX } from './config';

/**
 * Fire-and-forget notifications between instances (realtime events, session revocations). Not
 * durable: what must not be lost travels through the outbox and the event bus instead.
 * In memory by default (one process); Redis pub/sub with REDIS_URL (every instance receives).
 */
export interface PubSub {
  publish(topic: string, payload: unknown): Promise<void>;
  /**
   * Publishes and also keeps the payload for `ttlMs`, so an instance that starts later can catch up with
   * `recent(topic)` (e.g. sessions revoked while a gateway was down).
   */
  publishRemembered(topic: string, payload: unknown, ttlMs: number): Promise<void>;
  /** Payloads published with `publishRemembered` that have not expired yet. */
  recent(topic: string): Promise<unknown[]>;
  /** Listens to a topic until the returned function is called. */
  listen(topic: string, handler: (payload: unknown) => void): () => void;
  /** The same as an async iterator (for GraphQL subscriptions); `return()` stops listening. */
  iterate<T>(topic: string): AsyncIterableIterator<T>;
  /**
   * Whether this instance may have missed messages: null while it is not receiving (Redis connection
   * down), otherwise a number that changes whenever reception was interrupted. Two equal marks mean
   * nothing published in between was lost. Always 0 in memory, where nothing is lost.
   */
  receptionMark(): number | null;
  close(): Promise<void>;
}

/** How long a change that is already committed waits for its announcement before answering anyway. */
export const ANNOUNCE_WAIT_MS = 250;

const announceLog = logger('pubsub');

/**
 * Announces changes that are already committed (the database is their record; an announcement only makes
 * them apply sooner): waits at most `waitMs` for the messages to go out and never fails — a failure or
 * a slow Redis is logged, and the publish goes on in the background.
 */
export async function announce(
  pubsub: PubSub,
  topic: string,
  payloads: readonly unknown[],
  waitMs = ANNOUNCE_WAIT_MS,
): Promise<void> {
  if (payloads.length === 0) return;
  const sent = Promise.all(payloads.map((p) => pubsub.publish(topic, p))).then(
    () => true,
    (err: unknown) => {
      announceLog.warn(
        { err, topic, messages: payloads.length },
        'could not announce a change; it applies when the gateways next read it',
      );
      return true;
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), waitMs)));
  const announced = await Promise.race([sent, late]);
  clearTimeout(timer);
  if (!announced)
    announceLog.warn({ topic, messages: payloads.length }, 'announcing a change is slow; not waiting for it');
}

abstract class BasePubSub implements PubSub {
  abstract publish(topic: string, payload: unknown): Promise<void>;
  abstract publishRemembered(topic: string, payload: unknown, ttlMs: number): Promise<void>;
  abstract recent(topic: string): Promise<unknown[]>;
  abstract listen(topic: string, handler: (payload: unknown) => void): () => void;
  abstract receptionMark(): number | null;
  abstract close(): Promise<void>;

  iterate<T>(topic: string): AsyncIterableIterator<T> {
    const queue: T[] = [];
    const waiting: ((r: IteratorResult<T>) => void)[] = [];
    let done = false;
    const stop = this.listen(topic, (payload) => {
      const waiter = waiting.shift();
      if (waiter) waiter({ value: payload as T, done: false });
      else if (queue.length < 10_000) queue.push(payload as T);
    });
    const finish = (): Promise<IteratorResult<T>> => {
      if (!done) {
        done = true;
        stop();
        for (const waiter of waiting.splice(0)) waiter({ value: undefined, done: true });
      }
      return Promise.resolve({ value: undefined, done: true });
    };
    return {
      next: () => {
        if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => waiting.push(resolve));
      },
      return: finish,
      throw: (err?: unknown) => finish().then(() => Promise.reject(err)),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
}

export class MemoryPubSub extends BasePubSub {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private readonly remembered = new Map<string, { payload: unknown; until: number }[]>();

  async publishRemembered(topic: string, payload: unknown, ttlMs: number): Promise<void> {
    const now = Date.now();
    const kept = (this.remembered.get(topic) ?? []).filter((r) => r.until > now);
    kept.push({ payload: JSON.parse(JSON.stringify(payload)) as unknown, until: now + ttlMs });
    this.remembered.set(topic, kept);
    await this.publish(topic, payload);
  }

  async recent(topic: string): Promise<unknown[]> {
    const now = Date.now();
    return (this.remembered.get(topic) ?? []).filter((r) => r.until > now).map((r) => r.payload);
  }

  async publish(topic: string, payload: unknown): Promise<void> {
    // Copy, as a network transport would: listeners never share the publisher's object.
    const copy = JSON.parse(JSON.stringify(payload)) as unknown;
    queueMicrotask(() => this.emitter.emit(topic, copy));
  }

  listen(topic: string, handler: (payload: unknown) => void): () => void {
    this.emitter.on(topic, handler);
    return () => this.emitter.off(topic, handler);
  }

  receptionMark(): number {
    return 0;
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

export class RedisPubSub extends BasePubSub {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly handlers = new Map<string, Set<(payload: unknown) => void>>();
  private readonly log = logger('pubsub.redis');
  /** Times the subscriber connection closed: what was published meanwhile never arrived. */
  private interruptions = 0;

  constructor(
    url: string,
    private readonly prefix = DEFAULT_REDIS_PREFIX,
  ) {
    super();
    this.pub = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 });
    this.sub = new Redis(url, { lazyConnect: false });
    for (const client of [this.pub, this.sub])
      client.on('error', (err) => this.log.warn({ err }, 'redis connection error'));
    this.sub.on('close', () => this.interruptions++);
    this.sub.on('message', (channel: string, message: string) => {
      const set = this.handlers.get(channel);
      if (!set) return;
      let payload: unknown;
      try {
        payload = JSON.parse(message);
      } catch {
        return;
      }
      for (const handler of set) handler(payload);
    });
  }

  async publish(topic: string, payload: unknown): Promise<void> {
    await this.pub.publish(this.prefix + topic, JSON.stringify(payload));
  }

  async publishRemembered(topic: string, payload: unknown, ttlMs: number): Promise<void> {
    const key = `${this.prefix}recent:${topic}`;
    const now = Date.now();
    await this.pub
      .multi()
      .zadd(key, now + ttlMs, JSON.stringify(payload))
      .zremrangebyscore(key, '-inf', now) // expired entries go on every write
      .exec();
    await this.publish(topic, payload);
  }

  async recent(topic: string): Promise<unknown[]> {
    const members = await this.pub.zrangebyscore(`${this.prefix}recent:${topic}`, Date.now(), '+inf');
    return members.map((m) => JSON.parse(m) as unknown);
  }

  listen(topic: string, handler: (payload: unknown) => void): () => void {
    const channel = this.prefix + topic;
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      void this.sub.subscribe(channel).catch((err) => this.log.error({ err, channel }, 'subscribe failed'));
    }
    set.add(handler);
    return () => {
      const current = this.handlers.get(channel);
      if (!current) return;
      current.delete(handler);
      if (current.size === 0) {
        this.handlers.delete(channel);
        void this.sub.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  receptionMark(): number | null {
    return this.sub.status === 'ready' ? this.interruptions : null;
  }

  /** Resolves once the subscriber connection has applied every pending SUBSCRIBE. */
  async ready(): Promise<void> {
    await this.sub.ping();
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.pub.disconnect();
    this.sub.disconnect();
  }
}

export function createPubSub(redisUrl: string | undefined, prefix = DEFAULT_REDIS_PREFIX): PubSub {
  return redisUrl ? new RedisPubSub(redisUrl, prefix) : new MemoryPubSub();
}
