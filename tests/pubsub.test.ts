import { randomUUID } from 'node:crypto';
import { MemoryPubSub, RedisPubSub, type PubSub } from '../kernel/pubsub';
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
    const got: unknown[] = [];
    const other: unknown[] = [];
    const stop = b.listen('room.1', (p) => got.push(p));
    b.listen('room.2', (p) => other.push(p));
    if (b instanceof RedisPubSub) await b.ready();
    for (let i = 0; i < 5; i++) await a.publish('room.1', { i });
    const deadline = Date.now() + 2000;
    while (got.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([0, 1, 2, 3, 4].map((i) => ({ i })));
    expect(other).toEqual([]);
    stop();
    await a.close();
    if (b !== a) await b.close();
  });

  it('remembers notifications for their lifetime, each for its own', async () => {
    const p = make();
    await p.publishRemembered('revoked', { id: 'long' }, 5_000);
    await p.publishRemembered('revoked', { id: 'short' }, 30);
    await new Promise((r) => setTimeout(r, 80));
    expect(await p.recent('revoked')).toEqual([{ id: 'long' }]);
    await p.close();
  });
});
