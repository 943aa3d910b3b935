import { exportPem } from '../kernel/keys';
import type { User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { freePorts, startServices, type ServiceProcess } from './support/processes';
import { connect, untilLive, type Subscription, type WsSession } from './support/ws';

/**
 * Messaging runs as its own process (as deployed) and is restarted under open subscriptions: each either
 * gets every event or ends with SUBSCRIPTION_INTERRUPTED (the client refetches and subscribes again) —
 * never a silent gap — and new subscriptions work as soon as messaging is back, without restarting the
 * gateway. While it is down, new subscriptions are refused at once with SERVICE_UNAVAILABLE.
 */
let t: TestPlatform;
let messaging: ServiceProcess | undefined;
let env: NodeJS.ProcessEnv;
let account: User;
let roomId: string;
const sessions: WsSession[] = [];

const startMessaging = () => startServices('messaging', env);

beforeAll(async () => {
  const [port] = await freePorts(1);
  // Every service but messaging in this process; the gateway finds messaging at MESSAGING_PORT.
  t = await startTestPlatform(['identity', 'tenancy', 'commerce', 'ledger', 'intelligence', 'gateway'], {
    MESSAGING_PORT: String(port),
  });
  env = {
    DATABASE_URL: t.databaseUrl,
    REDIS_URL: '',
    MIGRATE_ON_START: 'false',
    MESSAGING_PORT: String(port),
    NEXUS_ACCESS_TOKEN_PRIVATE_KEY: exportPem(t.keys.access).privatePem,
    NEXUS_CONTEXT_PRIVATE_KEY: exportPem(t.keys.context).privatePem,
  };
  messaging = await startMessaging();
  account = await t.signUp('Restarted');
  roomId = (await account.createRoomWithMessage('setup')).roomId;
}, 90_000);
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.dispose().catch(() => undefined);
});
afterAll(async () => {
  await messaging?.stop('SIGKILL');
  await t?.stop();
}, 30_000);

const MESSAGE_ADDED = 'subscription($r: ID!) { messageAdded(roomId: $r) { body author { email } } }';
// Resolved by messaging alone (no lookup per event through the gateway).
const ROOM_EVENTS = 'subscription($r: ID!) { roomEvents(roomId: $r) { kind message { body } } }';
type Added = { messageAdded: { body: string } };
type Events = { roomEvents: { kind: string; message: { body: string } | null } };

const open = () => {
  const s = connect(t.gatewayUrl, { authorization: `Bearer ${account.token}` });
  sessions.push(s);
  return s;
};
const bodies = (sub: Subscription<Added | Events>) =>
  sub.results
    .filter((r) => r.data)
    .map((r) =>
      'messageAdded' in r.data!
        ? r.data.messageAdded.body
        : (r.data as Events['roomEvents'] & Events).roomEvents.message?.body,
    );

/** Waits until the subscription has received a message with this body. */
async function receives(sub: Subscription<Added | Events>, body: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!bodies(sub).includes(body)) {
    if (Date.now() > deadline) throw new Error(`"${body}" never arrived: ${JSON.stringify(sub.results)}`);
    await sub.waitFor(sub.results.length + 1, 1000).catch(() => undefined);
  }
}

/** Sends messages until each subscription has received one (they are admitted and live upstream). */
function live(subs: Subscription<Added | Events>[]): Promise<void> {
  let i = 0;
  return untilLive(subs, () => account.postMessage(roomId, `warm-up ${i++}`), { timeoutMs: 15_000, waitMs: 500 });
}

/**
 * Restarts messaging with `signal` under two live subscriptions, checks what each got, and that a new
 * subscription refused while messaging was down works once it is back.
 */
async function restartUnder(signal: NodeJS.Signals): Promise<void> {
  const s = open();
  const added = s.subscribe<Added>(MESSAGE_ADDED, { r: roomId });
  const events = s.subscribe<Events>(ROOM_EVENTS, { r: roomId });
  await live([added, events]);
  await account.postMessage(roomId, 'before the restart');
  await receives(added, 'before the restart');
  await receives(events, 'before the restart');
  await messaging!.stop(signal);
  messaging = undefined;

  // Each open subscription ends, with the code, after everything it got before.
  for (const sub of [added, events] as Subscription<Added | Events>[]) {
    await sub.completed;
    const last = sub.results.at(-1)!;
    expect(last.errors?.map((e) => e.extensions?.code)).toEqual(['SUBSCRIPTION_INTERRUPTED']);
    // With how long to wait before subscribing again (spread out, so clients do not all return at once).
    expect(last.errors?.[0].extensions?.retryAfterMs).toEqual(expect.any(Number));
    expect(last.errors?.[0].extensions?.retryAfterMs).toBeGreaterThanOrEqual(1_000);
    expect(bodies(sub)).toContain('before the restart');
    expect(sub.results.slice(0, -1).every((r) => !r.errors)).toBe(true);
  }

  // Down: a new subscription is refused at once, not left waiting.
  const whileDown = open().subscribe<Added>(MESSAGE_ADDED, { r: roomId });
  await whileDown.waitFor(1, 8_000);
  expect(whileDown.results[0].errors?.map((e) => e.extensions?.code)).toEqual(['SERVICE_UNAVAILABLE']);
  expect(whileDown.results[0].errors?.[0].extensions?.retryAfterMs).toBeGreaterThanOrEqual(1_000);

  messaging = await startMessaging();
  const after = ['after 1', 'after 2', 'after 3', 'after 4', 'after 5'];
  // A new subscription works again, through the same gateway, and gets everything from then on.
  const fresh = open().subscribe<Added>(MESSAGE_ADDED, { r: roomId });
  await live([fresh]);
  for (const body of after) await account.postMessage(roomId, body);
  await receives(fresh, after.at(-1)!);
  expect(bodies(fresh).filter((b) => b?.startsWith('after'))).toEqual(after);
  // The subscriptions that ended got nothing more: the client knows to refetch what it missed.
  expect(added.results.at(-1)!.errors).toBeDefined();
  expect(events.results.at(-1)!.errors).toBeDefined();
}

describe('subscriptions across a restart of the subgraph behind them', () => {
  it('ends them with SUBSCRIPTION_INTERRUPTED when messaging stops (SIGTERM), and serves new ones once it is back', async () => {
    await restartUnder('SIGTERM');
  }, 90_000);

  it('does the same when messaging is killed (SIGKILL)', async () => {
    await restartUnder('SIGKILL');
  }, 90_000);
});
