import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { MemoryPubSub, RedisPubSub, type PubSub } from '../kernel/pubsub';
import { SESSION_REVOKED_TOPIC, presenceTopic } from '../kernel/contracts/topics';
import { dropRedisKeys } from './support/redis';

const run = randomUUID().slice(0, 8);
const transports: [string, () => PubSub][] = [
  ['memory', () => new MemoryPubSub()],
  ...(process.env.REDIS_URL
    ? ([['Redis', () => new RedisPubSub(process.env.REDIS_URL!, `nexus-test-${run}:`)]] as [string, () => PubSub][])
    : []),
];

afterAll(() => dropRedisKeys(`nexus-test-${run}:`));

describe.each(transports)('%s pub/sub', (name, make) => {
  it('delivers to every listener of a topic, in order, and to nobody else', async () => {
    // In memory, instances are one process's bus; across Redis, two separate connections.
    const a = make();
    const b = name === 'memory' ? a : make();
    const [one, two] = [randomUUID(), randomUUID()];
    const users = [0, 1, 2, 3, 4].map(() => randomUUID());
    const got: unknown[] = [];
    const other: unknown[] = [];
    const stop = b.listen(presenceTopic(one), (p) => got.push(p));
    b.listen(presenceTopic(two), (p) => other.push(p));
    if (b instanceof RedisPubSub) await b.ready();
    for (const userId of users) await a.publish(presenceTopic(one), { tenantId: one, userId });
    const deadline = Date.now() + 2000;
    while (got.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual(users.map((userId) => ({ tenantId: one, userId })));
    expect(other).toEqual([]);
    stop();
    await a.close();
    if (b !== a) await b.close();
  });

  it('remembers notifications for their lifetime, each for its own', async () => {
    const p = make();
    const revoked = (sessionId: string) => ({ sessionId, userId: randomUUID(), tenantId: null, revokedAt: 'now' });
    const [long, short] = [revoked(randomUUID()), revoked(randomUUID())];
    await p.publishRemembered(SESSION_REVOKED_TOPIC, long, 5_000);
    await p.publishRemembered(SESSION_REVOKED_TOPIC, short, 30);
    await new Promise((r) => setTimeout(r, 80));
    expect(await p.recent(SESSION_REVOKED_TOPIC)).toEqual([long]);
    await p.close();
  });
});

(process.env.REDIS_URL ? describe : describe.skip)('messages from Redis', () => {
  it('drops a message that does not match its topic and delivers the next one', async () => {
    const prefix = `nexus-test-${run}:`;
    const sub = new RedisPubSub(process.env.REDIS_URL!, prefix);
    const raw = new Redis(process.env.REDIS_URL!);
    const tenantId = randomUUID();
    const userId = randomUUID();
    const got: unknown[] = [];
    sub.listen(presenceTopic(tenantId), (p) => got.push(p));
    await sub.ready();
    // Another instance with a renamed field, then a well-formed message.
    await raw.publish(prefix + presenceTopic(tenantId), JSON.stringify({ tenantId, user: userId }));
    await raw.publish(prefix + presenceTopic(tenantId), JSON.stringify({ tenantId, userId }));
    const deadline = Date.now() + 2000;
    while (got.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual([{ tenantId, userId }]);
    raw.disconnect();
    await sub.close();
  });

  it('counts a refused platform message as lost, so announcements are no longer trusted alone', async () => {
    const prefix = `nexus-test-${run}-mark:`;
    const sub = new RedisPubSub(process.env.REDIS_URL!, prefix);
    const raw = new Redis(process.env.REDIS_URL!);
    const got: unknown[] = [];
    sub.listen(SESSION_REVOKED_TOPIC, (p) => got.push(p));
    sub.listen(presenceTopic(randomUUID()), (p) => got.push(p));
    try {
      await sub.ready();
      const before = sub.receptionMark();
      // A feature's malformed message is dropped without touching the mark…
      await raw.publish(prefix + presenceTopic(randomUUID()), JSON.stringify({ nobody: true }));
      await new Promise((r) => setTimeout(r, 100));
      expect(sub.receptionMark()).toBe(before);
      // …a revocation the schema refuses is dropped and counted as lost.
      await raw.publish(prefix + SESSION_REVOKED_TOPIC, JSON.stringify({ session: randomUUID() }));
      const deadline = Date.now() + 2000;
      while (sub.receptionMark() === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(sub.receptionMark()).not.toBe(before);
      expect(got).toEqual([]);
    } finally {
      raw.disconnect();
      await sub.close();
    }
  });
});
