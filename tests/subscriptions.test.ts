import type { User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { connect, sleep, type WsSession } from './support/ws';

/** Waits (up to 10 s) until the gateway's subscription counters satisfy `done`. */
async function statsSettle(
  gateway: { stats?: () => Record<string, number> },
  done: (s: Record<string, number>) => boolean,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done(gateway.stats!()) && Date.now() < deadline) await sleep(50);
}

let t: TestPlatform;
let a: User;
let b: User;
let aRoomId: string;
const sessions: WsSession[] = [];
const open = (token: string | undefined, params?: Record<string, unknown>) => {
  const s = connect(t.gatewayUrl, params ?? (token ? { authorization: `Bearer ${token}` } : undefined));
  sessions.push(s);
  return s;
};

beforeAll(async () => {
  t = await startTestPlatform();
  a = await t.signUp('Realtime A');
  b = await t.signUp('Realtime B');
  aRoomId = (await a.createRoomWithMessage('before')).roomId;
});
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.dispose().catch(() => undefined);
});
afterAll(async () => {
  await t?.stop();
});

const MESSAGE_ADDED = `subscription($roomId: ID!) { messageAdded(roomId: $roomId) { id body author { id email } } }`;

describe('subscriptions through the gateway', () => {
  it('delivers a new message with its author resolved by identity', async () => {
    const sub = open(a.token).subscribe<{ messageAdded: { body: string; author: { email: string } } }>(MESSAGE_ADDED, {
      roomId: aRoomId,
    });
    await sleep(300);
    await a.sendMessage(aRoomId, 'hello live');
    const [first] = await sub.waitFor(1);
    expect(first.errors).toBeUndefined();
    expect(first.data!.messageAdded).toMatchObject({ body: 'hello live', author: { id: a.userId, email: a.email } });
  });

  it('honours aliases, fragments, variables and @include/@skip in the selection', async () => {
    const query = `
      subscription Live($roomId: ID!, $withAuthor: Boolean!, $noBody: Boolean!) {
        live: messageAdded(roomId: $roomId) { ...M writer: author @include(if: $withAuthor) { mail: email } text: body @skip(if: $noBody) }
      }
      fragment M on Message { messageId: id room { name } }`;
    const gateway = t.platform.services.find((s) => s.name === 'gateway')!;
    const before = gateway.stats!().subscribers;
    const sub = open(a.token).subscribe<Record<string, unknown>>(query, {
      roomId: aRoomId,
      withAuthor: true,
      noBody: false,
    });
    const bare = open(a.token).subscribe<Record<string, unknown>>(query, {
      roomId: aRoomId,
      withAuthor: false,
      noBody: true,
    });
    await statsSettle(gateway, (x) => x.subscribers >= before + 2);
    const sent = await a.sendMessage(aRoomId, 'shaped');
    const [full] = await sub.waitFor(1);
    const [slim] = await bare.waitFor(1);
    expect(full.data).toEqual({
      live: {
        messageId: sent.data!.sendMessage.id,
        room: { name: 'general' },
        writer: { mail: a.email },
        text: 'shaped',
      },
    });
    expect(slim.data).toEqual({ live: { messageId: sent.data!.sendMessage.id, room: { name: 'general' } } });
  });

  it("refuses a subscription to another tenant's room and leaks none of its events", async () => {
    const spy = open(b.token).subscribe(MESSAGE_ADDED, { roomId: aRoomId });
    const [refused] = await spy.waitFor(1);
    expect(refused.errors?.map((e) => e.extensions?.code)).toEqual(['ROOM_NOT_FOUND']);
    await spy.completed;
    const bRoom = (await b.createRoomWithMessage('b only')).roomId;
    const own = open(b.token).subscribe<{ messageAdded: { body: string } }>(MESSAGE_ADDED, { roomId: bRoom });
    await sleep(300);
    await a.sendMessage(aRoomId, 'secret of A');
    await b.sendMessage(bRoom, 'for B');
    const results = await own.waitFor(1);
    await sleep(300);
    expect(results.map((r) => r.data!.messageAdded.body)).toEqual(['for B']);
    expect(spy.results).toHaveLength(1);
  });

  it('refuses connections without a token or with a forged one (4401), and keeps serving others', async () => {
    const healthy = open(a.token).subscribe<{ messageAdded: { body: string } }>(MESSAGE_ADDED, { roomId: aRoomId });
    const none = open(undefined);
    expect((await none.closed).code).toBe(4401);
    const forged = open('eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln');
    expect((await forged.closed).code).toBe(4401);
    await sleep(200);
    await a.sendMessage(aRoomId, 'still here');
    expect((await healthy.waitFor(1))[0].data!.messageAdded.body).toBe('still here');
  });

  it('answers unknown fields and malformed operations with errors, not a dropped connection', async () => {
    const s = open(a.token);
    const unknown = s.subscribe('subscription { nope }');
    const err = (await unknown.error) as { message: string }[];
    expect(err[0].message).toMatch(/Cannot query field "nope"/);
    const broken = s.subscribe('subscription { messageAdded(roomId: ');
    expect(((await broken.error) as { message: string }[])[0].message).toMatch(/Syntax Error/);
    const ok = s.subscribe<{ messageAdded: { body: string } }>(MESSAGE_ADDED, { roomId: aRoomId });
    await sleep(300);
    await a.sendMessage(aRoomId, 'after errors');
    expect((await ok.waitFor(1))[0].data!.messageAdded.body).toBe('after errors');
  });

  it('ends live subscriptions with 4401 when the session signs out, and refuses its token over HTTP', async () => {
    const other = await t.signUp('Leaving');
    const room = (await other.createRoomWithMessage('x')).roomId;
    const s = open(other.token);
    s.subscribe(MESSAGE_ADDED, { roomId: room });
    await sleep(300);
    const out = await other.raw<{ logout: boolean }>({ query: 'mutation { logout }' });
    expect(out.data).toEqual({ logout: true });
    expect((await s.closed).code).toBe(4401);
    const again = await other.raw({ query: '{ me { id } }' });
    expect(again.status).toBe(401);
  });

  it('shares one upstream subscription and one execution per event among identical subscribers', async () => {
    const gateway = t.platform.services.find((s) => s.name === 'gateway')!;
    const before = gateway.stats!();
    const subs = Array.from({ length: 20 }, () =>
      open(a.token).subscribe<{ messageAdded: { body: string } }>(MESSAGE_ADDED, { roomId: aRoomId }),
    );
    // Each subscriber is admitted by the owning subgraph first: wait until all 20 are in (or time out).
    await statsSettle(gateway, (x) => x.subscribers === before.subscribers + 20);
    expect(gateway.stats!()).toMatchObject({
      subscriptionGroups: before.subscriptionGroups + 1,
      subscribers: before.subscribers + 20,
    });
    await a.sendMessage(aRoomId, 'fan-out 1');
    await a.sendMessage(aRoomId, 'fan-out 2');
    for (const sub of subs)
      expect((await sub.waitFor(2)).map((r) => r.data!.messageAdded.body)).toEqual(['fan-out 1', 'fan-out 2']);
    expect(gateway.stats!().eventExecutions - before.eventExecutions).toBe(2);
    for (const sub of subs) sub.unsubscribe();
    await statsSettle(gateway, (x) => x.subscribers === before.subscribers);
    expect(gateway.stats!()).toMatchObject({
      subscriptionGroups: before.subscriptionGroups,
      subscribers: before.subscribers,
    });
  });
});
