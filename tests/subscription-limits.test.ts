import WebSocket from 'ws';
import type { RunningService } from '../kernel/http/service';
import { CreateApiKeyDocument } from './generated/graphql';
import type { SignedIn, User } from './support/client';
import { startExtraGateway, startTestPlatform, type TestPlatform } from './support/platform';
import { connect, sleep, untilLive, wsUrl, type Subscription, type WsSession } from './support/ws';

/**
 * Live subscriptions count against limits per socket, user, tenant and client address, as do sockets per
 * user and address; different selections of one stream are limited per user and per tenant (aliases of the
 * root field are not a different selection: they share), and a connection's subscriptions together cost
 * at most LIMIT_MAX_COST per event. Clients pose as other addresses through X-Forwarded-For.
 */
let t: TestPlatform;
let owner: User;
let member: User;
let other: User;
let ownerRoom: string;
let otherRoom: string;
let cheap: RunningService;
const sessions: WsSession[] = [];
let nextAddress = 1;
/** An address no other test uses. */
const freshAddress = () => `198.51.100.${nextAddress++}`;

const LIMITS = {
  WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '3',
  WS_MAX_SUBSCRIPTIONS_PER_USER: '5',
  WS_MAX_SUBSCRIPTIONS_PER_TENANT: '7',
  WS_MAX_SUBSCRIPTIONS_PER_ADDRESS: '9',
  WS_MAX_SOCKETS_PER_USER: '4',
  WS_MAX_SOCKETS_PER_ADDRESS: '6',
  WS_MAX_VARIANTS_PER_USER: '2',
  WS_MAX_VARIANTS_PER_TENANT: '3',
};

beforeAll(async () => {
  t = await startTestPlatform(undefined, LIMITS);
  owner = await t.signUp('Limited');
  member = await owner.invite();
  other = await t.signUp('Elsewhere');
  ownerRoom = (await owner.createRoomWithMessage('first')).roomId;
  otherRoom = (await other.createRoomWithMessage('first')).roomId;
  // The same subgraphs behind a gateway whose query cost limit is low.
  cheap = await startExtraGateway(t, { limits: { maxDepth: 12, maxAliases: 20, maxCost: 30 } });
}, 60_000);
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.dispose().catch(() => undefined);
  // Every socket of the test is gone at the gateways before the next test counts again.
  for (const gateway of [t.platform.services.find((s) => s.name === 'gateway')!, cheap]) {
    const deadline = Date.now() + 5000;
    while (gateway.stats!().sockets > 0 && Date.now() < deadline) await sleep(20);
    expect(gateway.stats!()).toMatchObject({ sockets: 0, subscriptionsHeld: 0 });
  }
});
afterAll(async () => {
  await cheap?.stop();
  await t?.stop();
});

const open = (who: SignedIn, address: string, gatewayUrl = t.gatewayUrl) => {
  const s = connect(gatewayUrl, { authorization: `Bearer ${who.token}` }, { 'x-forwarded-for': address });
  sessions.push(s);
  return s;
};

type Events = { roomEvents: { id: string; kind: string } };
const EVENTS = 'subscription($r: ID!) { roomEvents(roomId: $r) { id kind } }';

/** Whether the subscription was admitted (an event reaches it), or the code it was refused with. */
async function admitted(sub: Subscription<unknown>, who: SignedIn, roomId: string): Promise<true | string> {
  let refused: string | undefined;
  void sub.error.then((e) => (refused = String((e as { extensions?: { code?: string } }[])[0]?.extensions?.code)));
  await sleep(300); // admitted or refused by now
  if (refused) return refused;
  await live([sub], who, roomId);
  return true;
}

/** The refusal of a subscription (a graphql-ws error): its code and which limit. */
async function refusal(sub: Subscription<unknown>): Promise<{ code?: string; scope?: unknown }> {
  const errors = (await sub.error) as { extensions?: { code?: string; scope?: unknown } }[];
  return { code: errors[0]?.extensions?.code, scope: errors[0]?.extensions?.scope };
}

/** Sends messages to the room until every subscription given has received one since the call (see untilLive). */
function live(subs: Subscription<unknown>[], who: SignedIn, roomId: string, gatewayUrl = t.gatewayUrl): Promise<void> {
  return untilLive(subs, () => who.via(gatewayUrl).sendMessage(roomId, `ping ${Math.random()}`));
}

describe('subscription limits', () => {
  it('refuses a subscription beyond the limit of one connection, and admits one again once another ends', async () => {
    const s = open(owner, freshAddress());
    const subs = [1, 2, 3].map(() => s.subscribe<Events>(EVENTS, { r: ownerRoom }));
    await live(subs, owner, ownerRoom);
    expect(await refusal(s.subscribe(EVENTS, { r: ownerRoom }))).toEqual({
      code: 'SUBSCRIPTION_LIMIT_EXCEEDED',
      scope: 'socket',
    });
    subs[0].unsubscribe();
    const again = s.subscribe<Events>(EVENTS, { r: ownerRoom });
    await live([again], owner, ownerRoom);
    expect(again.results.at(-1)!.errors).toBeUndefined();
  });

  it("counts a user's subscriptions over all their connections", async () => {
    const first = open(owner, freshAddress());
    const second = open(owner, freshAddress());
    const subs = [first, first, first, second, second].map((s) => s.subscribe<Events>(EVENTS, { r: ownerRoom }));
    await live(subs, owner, ownerRoom);
    expect(await refusal(second.subscribe(EVENTS, { r: ownerRoom }))).toEqual({
      code: 'SUBSCRIPTION_LIMIT_EXCEEDED',
      scope: 'user',
    });
    // Someone else of the tenant is not held back by it.
    expect(await admitted(open(member, freshAddress()).subscribe(EVENTS, { r: ownerRoom }), owner, ownerRoom)).toBe(
      true,
    );
  });

  it("counts a tenant's subscriptions over all its members", async () => {
    const a = open(owner, freshAddress());
    const b = open(owner, freshAddress());
    const m = open(member, freshAddress());
    const subs = [a, a, a, b, b, m, m].map((s) => s.subscribe<Events>(EVENTS, { r: ownerRoom }));
    await live(subs, owner, ownerRoom);
    expect(await refusal(m.subscribe(EVENTS, { r: ownerRoom }))).toEqual({
      code: 'SUBSCRIPTION_LIMIT_EXCEEDED',
      scope: 'tenant',
    });
    // Another tenant still subscribes.
    expect(await admitted(open(other, freshAddress()).subscribe(EVENTS, { r: otherRoom }), other, otherRoom)).toBe(
      true,
    );
  });

  it('counts the subscriptions of everyone at one client address', async () => {
    const shared = freshAddress();
    const a = open(owner, shared);
    const b = open(owner, shared);
    const c = open(other, shared);
    const d = open(other, shared);
    const mine = [a, a, a, b, b].map((s) => s.subscribe<Events>(EVENTS, { r: ownerRoom }));
    const theirs = [c, c, c, d].map((s) => s.subscribe<Events>(EVENTS, { r: otherRoom }));
    await live(mine, owner, ownerRoom);
    await live(theirs, other, otherRoom);
    expect(await refusal(d.subscribe(EVENTS, { r: otherRoom }))).toEqual({
      code: 'SUBSCRIPTION_LIMIT_EXCEEDED',
      scope: 'address',
    });
    // The same account from another address is not held back by it.
    expect(await admitted(open(other, freshAddress()).subscribe(EVENTS, { r: otherRoom }), other, otherRoom)).toBe(
      true,
    );
  });

  it('closes a connection beyond the sockets a user may keep with 4429', async () => {
    const kept = [1, 2, 3, 4].map(() => open(owner, freshAddress()));
    // Each of them was admitted (a query answers over it).
    for (const s of kept)
      expect((await s.subscribe('{ me { id } }').waitFor(1))[0].data).toEqual({ me: { id: owner.userId } });
    const refused = open(owner, freshAddress());
    expect(await refused.closed).toMatchObject({
      code: 4429,
      reason: expect.stringMatching(/Too many connections for this user/),
    });
    await kept[0].dispose();
    const deadline = Date.now() + 5000;
    while (t.platform.services.find((s) => s.name === 'gateway')!.stats!().sockets > 3 && Date.now() < deadline)
      await sleep(20);
    const again = open(owner, freshAddress());
    expect((await again.subscribe('{ me { id } }').waitFor(1))[0].data).toEqual({ me: { id: owner.userId } });
  });

  it('closes a connection beyond the sockets one address may keep with 4429', async () => {
    const shared = freshAddress();
    const kept = [owner, owner, owner, other, other, other].map((who) => open(who, shared));
    for (const s of kept) expect((await s.subscribe('{ me { id } }').waitFor(1))[0].errors).toBeUndefined();
    const refused = open(member, shared);
    expect(await refused.closed).toMatchObject({
      code: 4429,
      reason: expect.stringMatching(/Too many connections from this address/),
    });
    const elsewhere = open(member, freshAddress());
    expect((await elsewhere.subscribe('{ me { id } }').waitFor(1))[0].errors).toBeUndefined();
  });

  it('counts IPv6 clients by their /64 network, however many addresses of it they use', async () => {
    const kept = [owner, owner, owner, other, other, other].map((who, i) => open(who, `2001:db8:64::${i + 1}`));
    for (const s of kept) expect((await s.subscribe('{ me { id } }').waitFor(1))[0].errors).toBeUndefined();
    const refused = open(member, '2001:db8:64:0:ffff:abcd:1:2');
    expect(await refused.closed).toMatchObject({
      code: 4429,
      reason: expect.stringMatching(/Too many connections from this address/),
    });
    const elsewhere = open(member, '2001:db8:65::1');
    expect((await elsewhere.subscribe('{ me { id } }').waitFor(1))[0].errors).toBeUndefined();
  });

  it("counts an API key's connections as the key's, not its creator's", async () => {
    const created = await owner.gql(CreateApiKeyDocument, {
      input: { name: 'ws limits', permissions: ['messages:read'] },
    });
    const { secret } = created.data!.createApiKey;
    const kept = [1, 2, 3, 4].map(() => open(owner, freshAddress()));
    for (const s of kept) expect((await s.subscribe('{ me { id } }').waitFor(1))[0].errors).toBeUndefined();
    // The owner holds every socket a user may; the key has its own.
    const keys = [1, 2, 3, 4].map(() => open(t.as(secret), freshAddress()));
    for (const s of keys) expect((await s.subscribe('{ __typename }').waitFor(1))[0].errors).toBeUndefined();
    const refused = open(t.as(secret), freshAddress());
    expect(await refused.closed).toMatchObject({
      code: 4429,
      reason: expect.stringMatching(/Too many connections for this user/),
    });
  });

  it('refuses handshakes from an address holding far more sockets than it may keep, before any authentication (HTTP 429)', async () => {
    const flood = freshAddress();
    const handshake = () =>
      new Promise<{ socket?: WebSocket; status?: number }>((resolve) => {
        const socket = new WebSocket(wsUrl(t.gatewayUrl), 'graphql-transport-ws', {
          headers: { 'x-forwarded-for': flood },
        });
        socket.once('open', () => resolve({ socket }));
        socket.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode }));
      });
    // Twice the sockets an address may keep are let in unauthenticated (they must authenticate within 3 s).
    const pending = [];
    for (let i = 0; i < 12; i++) pending.push(await handshake());
    expect(pending.every((p) => p.socket)).toBe(true);
    expect((await handshake()).status).toBe(429);
    for (const p of pending) p.socket!.terminate();
    // Another address is not held back.
    const other = open(member, freshAddress());
    expect((await other.subscribe('{ me { id } }').waitFor(1))[0].errors).toBeUndefined();
  });

  it('shares one upstream subscription between aliases of the same root field, each result under its own alias', async () => {
    const gateway = t.platform.services.find((s) => s.name === 'gateway')!;
    const before = gateway.stats!();
    const s = open(owner, freshAddress());
    const plain = s.subscribe<Events>(EVENTS, { r: ownerRoom });
    const a = s.subscribe<{ a: Events['roomEvents'] }>(
      'subscription($r: ID!) { a: roomEvents(roomId: $r) { id kind } }',
      { r: ownerRoom },
    );
    const b = s.subscribe<{ b: Events['roomEvents'] }>(
      'subscription Named($room: ID!) { b: roomEvents(roomId: $room) { id kind } }',
      { room: ownerRoom, unused: 1 },
    );
    await live([plain, a, b], owner, ownerRoom);
    expect(gateway.stats!().subscriptionGroups - before.subscriptionGroups).toBe(1);
    const event = plain.results.at(-1)!.data!.roomEvents;
    expect(event).toEqual({ id: expect.any(String), kind: 'MESSAGE_ADDED' });
    expect(a.results.at(-1)).toEqual({ data: { a: event } });
    expect(b.results.at(-1)).toEqual({ data: { b: event } });
  });

  it('limits the different selections of one stream per user and per tenant, not counting aliases', async () => {
    const s = open(owner, freshAddress());
    const t2 = open(owner, freshAddress());
    const first = s.subscribe(EVENTS, { r: ownerRoom });
    const second = s.subscribe('subscription($r: ID!) { roomEvents(roomId: $r) { id at } }', { r: ownerRoom });
    const aliased = s.subscribe('subscription($r: ID!) { again: roomEvents(roomId: $r) { id kind } }', {
      r: ownerRoom,
    });
    await live([first, second, aliased], owner, ownerRoom);
    const third = t2.subscribe('subscription($r: ID!) { roomEvents(roomId: $r) { kind at } }', { r: ownerRoom });
    expect(await refusal(third)).toEqual({ code: 'SUBSCRIPTION_LIMIT_EXCEEDED', scope: 'user_variants' });
    // Another room is another stream.
    const otherStream = (await owner.createRoomWithMessage()).roomId;
    expect(
      await admitted(
        t2.subscribe('subscription($r: ID!) { roomEvents(roomId: $r) { kind at } }', { r: otherStream }),
        owner,
        otherStream,
      ),
    ).toBe(true);
    // The tenant holds two selections of the owner's (as owner) and may have one more.
    const m = open(member, freshAddress());
    const memberFirst = m.subscribe(EVENTS, { r: ownerRoom });
    await live([memberFirst], owner, ownerRoom);
    expect(
      await refusal(m.subscribe('subscription($r: ID!) { roomEvents(roomId: $r) { id roomId } }', { r: ownerRoom })),
    ).toEqual({
      code: 'SUBSCRIPTION_LIMIT_EXCEEDED',
      scope: 'tenant_variants',
    });
  });

  it("refuses a subscription that would take a connection's subscriptions over the cost limit per event", async () => {
    // Cost 12 each; the gateway allows 30 per operation, so per connection.
    const costly =
      'subscription($r: ID!) { roomEvents(roomId: $r) { id kind roomId at message { id body deleted room { id name } } } }';
    const s = open(owner, freshAddress(), cheap.url);
    const subs = [s.subscribe(costly, { r: ownerRoom }), s.subscribe(costly, { r: ownerRoom })];
    await live(subs, owner, ownerRoom, cheap.url);
    const errors = (await s.subscribe(costly, { r: ownerRoom }).error) as {
      message: string;
      extensions?: { code?: string };
    }[];
    expect(errors[0]).toMatchObject({
      extensions: { code: 'COST_LIMIT_EXCEEDED' },
      message: expect.stringMatching(/would cost 36 per event; the limit is 30/),
    });
  });

  it("runs at most a few of one tenant's event lookups at a time, however many different subscriptions it has", async () => {
    const busy = await startExtraGateway(t, {
      subscriptionLimits: {
        socketsPerUser: 10,
        socketsPerAddress: 10,
        perSocket: 50,
        perUser: 50,
        perTenant: 50,
        perAddress: 50,
        variantsPerUser: 50,
        variantsPerTenant: 50,
      },
    });
    try {
      const s = connect(busy.url, { authorization: `Bearer ${owner.token}` });
      sessions.push(s);
      // Twelve different selections, each resolved through the gateway (the author comes from identity).
      const subs = Array.from({ length: 12 }, (_, i) =>
        s.subscribe(
          `subscription($r: ID!) { roomEvents(roomId: $r) { id v${i}: kind message { body author { email } } } }`,
          { r: ownerRoom },
        ),
      );
      await live(subs, owner, ownerRoom, busy.url);
      await live(subs, owner, ownerRoom, busy.url);
      const stats = busy.stats!();
      expect(stats.subscriptionGroups).toBe(12);
      expect(stats.eventExecutionsPeakPerTenant).toBeLessThanOrEqual(4);
    } finally {
      for (const s of sessions.splice(0)) await s.dispose().catch(() => undefined);
      await busy.stop();
    }
  });
});
