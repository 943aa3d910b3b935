import { randomUUID } from 'node:crypto';
import { callersAt, type User } from './support/client';
import { RoomsDocument } from './generated/graphql';
import { exportPem, generateKeyPair } from '../kernel/keys';
import { startEmbeddedDatabase } from '../kernel/db/embedded';
import { freshDatabase } from './support/platform';
import { dropRedisKeys } from './support/redis';
import { startServices, type ServiceProcess } from './support/processes';
import { connect, sleep, type WsSession } from './support/ws';

/**
 * Several processes, as in production: one with identity and the other subgraphs, two messaging
 * instances, two gateways (each in front of a different messaging instance), Redis in between.
 */
const redisUrl = process.env.REDIS_URL;
/** This run's own streams, groups and channels on the shared Redis. */
const redisPrefix = `nexus-test-${randomUUID().slice(0, 8)}:`;
const suite = redisUrl ? describe : describe.skip;

const MESSAGE_ADDED = 'subscription($roomId: ID!) { messageAdded(roomId: $roomId) { id body author { email } } }';

suite('scale-out over Redis (separate processes)', () => {
  const processes: ServiceProcess[] = [];
  const sessions: WsSession[] = [];
  let stopDatabase: () => Promise<void> = async () => {};
  let gateway1: string;
  let gateway2: string;
  let gateway2Process: ServiceProcess;
  let gateway1Process: ServiceProcess;

  beforeAll(async () => {
    let databaseUrl: string;
    if (process.env.DATABASE_URL) {
      const db = await freshDatabase();
      databaseUrl = db.url;
      stopDatabase = db.stop;
    } else {
      const db = await startEmbeddedDatabase({});
      databaseUrl = db.url;
      stopDatabase = db.stop;
    }
    const access = exportPem(generateKeyPair());
    const context = exportPem(generateKeyPair());
    const env = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: redisPrefix,
      NEXUS_ACCESS_TOKEN_PRIVATE_KEY: access.privatePem,
      NEXUS_CONTEXT_PRIVATE_KEY: context.privatePem,
      ...Object.fromEntries(
        ['GATEWAY', 'IDENTITY', 'TENANCY', 'COMMERCE', 'LEDGER', 'MESSAGING', 'INTELLIGENCE'].map((s) => [
          `${s}_PORT`,
          '0',
        ]),
      ),
    };
    const core = await startServices('identity,tenancy,commerce,ledger,intelligence', env);
    processes.push(core);
    const [messagingA, messagingB] = await Promise.all([
      startServices('messaging', env),
      startServices('messaging', env),
    ]);
    processes.push(messagingA, messagingB);
    const subgraphUrls = Object.fromEntries(
      Object.entries(core.urls).map(([name, url]) => [`${name.toUpperCase()}_URL`, url]),
    );
    [gateway1Process, gateway2Process] = await Promise.all([
      startServices('gateway', { ...env, ...subgraphUrls, MESSAGING_URL: messagingA.urls.messaging }),
      startServices('gateway', { ...env, ...subgraphUrls, MESSAGING_URL: messagingB.urls.messaging }),
    ]);
    processes.push(gateway1Process, gateway2Process);
    gateway1 = gateway1Process.urls.gateway;
    gateway2 = gateway2Process.urls.gateway;
  }, 120_000);

  afterAll(async () => {
    for (const s of sessions) await s.dispose().catch(() => undefined);
    for (const p of processes.reverse()) await p.stop();
    await stopDatabase();
    await dropRedisKeys(redisPrefix);
  }, 60_000);

  let account: User;
  let roomId: string;

  it('consumes each outbox event once per consumer group, even with two messaging instances', async () => {
    account = await callersAt(gateway1).signUp('Scaled');
    const rooms = await account.via(gateway2).gql(RoomsDocument, {});
    expect(rooms.data!.rooms.map((r) => r.name)).toEqual(['general']);
  });

  it('delivers every event exactly once to subscribers on either gateway, whichever instance it was sent to', async () => {
    roomId = (await account.createRoomWithMessage('setup')).roomId;
    const c1 = connect(gateway1, { authorization: `Bearer ${account.token}` });
    const c2 = connect(gateway2, { authorization: `Bearer ${account.token}` });
    sessions.push(c1, c2);
    const s1 = c1.subscribe<{ messageAdded: { body: string; author: { email: string } } }>(MESSAGE_ADDED, { roomId });
    const s2 = c2.subscribe<{ messageAdded: { body: string; author: { email: string } } }>(MESSAGE_ADDED, { roomId });
    await sleep(800);
    const bodies = Array.from({ length: 10 }, (_, i) => `m${i}`);
    for (const [i, body] of bodies.entries()) {
      const res = await account.via(i % 2 ? gateway2 : gateway1).sendMessage(roomId, body);
      expect(res.errors).toBeUndefined();
    }
    const r1 = await s1.waitFor(10, 10_000);
    const r2 = await s2.waitFor(10, 10_000);
    await sleep(500);
    for (const results of [r1, r2]) {
      expect(results.map((r) => r.data!.messageAdded.body)).toEqual(bodies);
      expect(results.every((r) => r.data!.messageAdded.author.email === account.email)).toBe(true);
    }
  });

  it('closes WebSockets with a close frame on SIGTERM; the client reconnects to the other gateway and resumes', async () => {
    const c1 = connect(gateway1, { authorization: `Bearer ${account.token}` });
    sessions.push(c1);
    c1.subscribe(MESSAGE_ADDED, { roomId });
    await sleep(500);
    expect(await gateway1Process.stop('SIGTERM')).toBe(0);
    expect((await c1.closed).code).toBe(1001);
    const again = connect(gateway2, { authorization: `Bearer ${account.token}` });
    sessions.push(again);
    const resumed = again.subscribe<{ messageAdded: { body: string } }>(MESSAGE_ADDED, { roomId });
    await sleep(500);
    await account.via(gateway2).sendMessage(roomId, 'after failover');
    expect((await resumed.waitFor(1, 10_000))[0].data!.messageAdded.body).toBe('after failover');
  });
});
