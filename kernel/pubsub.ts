import { EventEmitter } from 'node:events';
import Redis from 'ioredis';
import { logger } from './log';
import { DEFAULT_REDIS_PREFIX } from './config';
import { isPlatformTopic, parseTopicMessage, type Topic, type TopicMessage } from './contracts/topics';

/**
 * Fire-and-forget notifications between instances (realtime events, session revocations). Not
 * durable: what must not be lost travels through the outbox and the event bus instead.
 * In memory by default (one process); Redis pub/sub with REDIS_URL (every instance receives).
 * Typed by topic (kernel/contracts/topics.ts); a message that does not match its topic's schema is logged
 * and dropped, never handed to a listener.
 */
export interface PubSub {
  publish<T extends Topic>(topic: T, payload: TopicMessage<T>): Promise<void>;
  /**
   * Publishes and also keeps the payload for `ttlMs`, so an instance that starts later can catch up with
   * `recent(topic)` (e.g. sessions revoked while a gateway was down).
   */
  publishRemembered<T extends Topic>(topic: T, payload: TopicMessage<T>, ttlMs: number): Promise<void>;
  /** Payloads published with `publishRemembered` that have not expired yet. */
  recent<T extends Topic>(topic: T): Promise<TopicMessage<T>[]>;
  /** Listens to a topic until the returned function is called. */
  listen<T extends Topic>(topic: T, handler: (payload: TopicMessage<T>) => void): () => void;
  /** The same as an async iterator (for GraphQL subscriptions); `return()` stops listening. */
  iterate<T extends Topic>(topic: T): AsyncIterableIterator<TopicMessage<T>>;
  /**
   * Whether this instance may have missed messages: null while it is not receiving (Redis connection
   * down), otherwise a number that changes whenever reception was interrupted. Two equal marks mean
   * nothing published in between was lost. A platform message refused by its schema counts as lost.
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
export async function announce<T extends Topic>(
  pubsub: PubSub,
  topic: T,
  payloads: readonly TopicMessage<T>[],
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

const receiveLog = logger('pubsub.receive');

type Checked = ReturnType<typeof parseTopicMessage>;

abstract class BasePubSub implements PubSub {
  /**
   * Platform messages (revocations, suspensions…) that did not match their schema. A gateway trusts announcements
   * only while nothing was lost (`receptionMark`), so a refused one counts as lost.
   */
  protected refused = 0;
  /** Each message as checked, shared by every listener of its topic: checked once, not once per listener. */
  private readonly checked = new WeakMap<object, Checked>();

  /** The message as its topic's schema reads it, or null (logged) when it does not match. */
  private accept<T extends Topic>(topic: T, message: unknown): TopicMessage<T> | null {
    const shared = typeof message === 'object' && message !== null ? message : null;
    let checked = shared ? this.checked.get(shared) : undefined;
    if (!checked) {
      checked = parseTopicMessage(topic, message);
      if (shared) this.checked.set(shared, checked);
      if (!checked.ok) {
        if (isPlatformTopic(topic)) this.refused++;
        receiveLog.warn({ topic, reason: checked.reason }, 'dropped a message that does not match its topic');
      }
    }
    // Checked against the schema of `topic`: the one the message arrived on.
    return checked.ok ? (checked.message as TopicMessage<T>) : null;
  }

  abstract publish<T extends Topic>(topic: T, payload: TopicMessage<T>): Promise<void>;
  abstract publishRemembered<T extends Topic>(topic: T, payload: TopicMessage<T>, ttlMs: number): Promise<void>;
  abstract receptionMark(): number | null;
  abstract close(): Promise<void>;
  /** Messages as they arrive, unchecked. */
  protected abstract receive(topic: string, handler: (message: unknown) => void): () => void;
  protected abstract recentRaw(topic: string): Promise<unknown[]>;

  async recent<T extends Topic>(topic: T): Promise<TopicMessage<T>[]> {
    return (await this.recentRaw(topic)).flatMap((m) => this.accept(topic, m) ?? []);
  }

  listen<T extends Topic>(topic: T, handler: (payload: TopicMessage<T>) => void): () => void {
    return this.receive(topic, (message) => {
      const payload = this.accept(topic, message);
      if (payload !== null) handler(payload);
    });
  }

  iterate<T extends Topic>(topic: T): AsyncIterableIterator<TopicMessage<T>> {
    type M = TopicMessage<T>;
    const queue: M[] = [];
    const waiting: ((r: IteratorResult<M>) => void)[] = [];
    let done = false;
    const stop = this.listen(topic, (payload) => {
      const waiter = waiting.shift();
      if (waiter) waiter({ value: payload, done: false });
      else if (queue.length < 10_000) queue.push(payload);
    });
    const finish = (): Promise<IteratorResult<M>> => {
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

  async publishRemembered<T extends Topic>(topic: T, payload: TopicMessage<T>, ttlMs: number): Promise<void> {
    const now = Date.now();
    const kept = (this.remembered.get(topic) ?? []).filter((r) => r.until > now);
    kept.push({ payload: JSON.parse(JSON.stringify(payload)) as unknown, until: now + ttlMs });
    this.remembered.set(topic, kept);
    await this.publish(topic, payload);
  }

  protected async recentRaw(topic: string): Promise<unknown[]> {
    const now = Date.now();
    return (this.remembered.get(topic) ?? []).filter((r) => r.until > now).map((r) => r.payload);
  }

  async publish<T extends Topic>(topic: T, payload: TopicMessage<T>): Promise<void> {
    // Copy, as a network transport would: listeners never share the publisher's object.
    const copy = JSON.parse(JSON.stringify(payload)) as unknown;
    queueMicrotask(() => this.emitter.emit(topic, copy));
  }

  protected receive(topic: string, handler: (message: unknown) => void): () => void {
    this.emitter.on(topic, handler);
    return () => this.emitter.off(topic, handler);
  }

  receptionMark(): number {
    return this.refused;
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
        this.log.warn({ channel }, 'dropped a message that is not JSON');
        return;
      }
      for (const handler of set) handler(payload);
    });
  }

  async publish<T extends Topic>(topic: T, payload: TopicMessage<T>): Promise<void> {
    await this.pub.publish(this.prefix + topic, JSON.stringify(payload));
  }

  async publishRemembered<T extends Topic>(topic: T, payload: TopicMessage<T>, ttlMs: number): Promise<void> {
    const key = `${this.prefix}recent:${topic}`;
    const now = Date.now();
    await this.pub
      .multi()
      .zadd(key, now + ttlMs, JSON.stringify(payload))
      .zremrangebyscore(key, '-inf', now) // expired entries go on every write
      .exec();
    await this.publish(topic, payload);
  }

  protected async recentRaw(topic: string): Promise<unknown[]> {
    const members = await this.pub.zrangebyscore(`${this.prefix}recent:${topic}`, Date.now(), '+inf');
    return members.map((m) => JSON.parse(m) as unknown);
  }

  protected receive(topic: string, handler: (message: unknown) => void): () => void {
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
    return this.sub.status === 'ready' ? this.interruptions + this.refused : null;
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
