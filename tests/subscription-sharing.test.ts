import { AssignRoleDocument, CreateTypedRoomDocument, LeaveRoomDocument } from './generated/graphql';
import type { SignedIn, User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { connect, sleep, untilLive, type Subscription, type WsSession } from './support/ws';

/**
 * What subscribers who share one upstream subscription may and may not share: content that depends on the
 * viewer stays with its viewer, and a group's events never silently stop while one of its subscribers remains.
 */
let t: TestPlatform;
let owner: User;
let member: User;
let roomId: string;
const sessions: WsSession[] = [];

beforeAll(async () => {
  t = await startTestPlatform();
  owner = await t.signUp('Sharing'); // its address is not confirmed
  // With the same rights as the owner: the same group, but for the viewer.
  member = await owner.invite();
  const assigned = await owner.gql(AssignRoleDocument, { input: { userId: member.userId, roleId: 'owner' } });
  expect(assigned.errors).toBeUndefined();
  roomId = (await owner.createRoomWithMessage('first')).roomId;
}, 60_000);
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.dispose().catch(() => undefined);
});
afterAll(async () => {
  await t?.stop();
});

const open = (who: SignedIn) => {
  const s = connect(t.gatewayUrl, { authorization: `Bearer ${who.token}` });
  sessions.push(s);
  return s;
};

const post = (body: string, room = roomId) => owner.sendMessage(room, body);

/** Posts until every subscription given has received a message since the call (see untilLive). */
function live(subs: Subscription<unknown>[], room = roomId): Promise<void> {
  return untilLive(subs, () => post(`ping ${Math.random()}`, room));
}

type Authored = {
  roomEvents: { kind: string; message: { body: string; author: { id: string; email: string | null } | null } | null };
};
const AUTHORED = 'subscription($r: ID!) { roomEvents(roomId: $r) { kind message { body author { id email } } } }';

describe('shared subscriptions', () => {
  it("never shows one subscriber's own unconfirmed address to others subscribed with the same selection", async () => {
    const mine = open(owner).subscribe<Authored>(AUTHORED, { r: roomId });
    await live([mine]);
    const theirs = open(member).subscribe<Authored>(AUTHORED, { r: roomId });
    await live([mine, theirs]);
    await post('whose address?');
    const seen = (s: Subscription<Authored>) =>
      s.results.map((r) => r.data?.roomEvents.message).find((m) => m?.body === 'whose address?');
    await Promise.all([mine, theirs].map((s) => s.waitUntil(() => seen(s) !== undefined)));
    expect(seen(mine)?.author).toEqual({ id: owner.userId, email: owner.email });
    expect(seen(theirs)?.author).toEqual({ id: owner.userId, email: null });
  });

  it('keeps delivering every event to the others when the subscriber who opened the shared stream leaves', async () => {
    const gateway = t.platform.services.find((s) => s.name === 'gateway')!;
    const room = (await owner.createRoomWithMessage('first')).roomId;
    const EVENTS = 'subscription($r: ID!) { roomEvents(roomId: $r) { id kind message { body } } }';
    const first = open(owner);
    const opener = first.subscribe(EVENTS, { r: room });
    await live([opener], room);
    const stays = open(member).subscribe<{ roomEvents: { message: { body: string } | null } }>(EVENTS, { r: room });
    await live([opener, stays], room);
    // Messages posted while it leaves and right after.
    const before = gateway.stats!().subscribers;
    const bodies = Array.from({ length: 20 }, (_, i) => `after ${i}`);
    const leaving = first.dispose();
    const posted = (async () => {
      for (const body of bodies) await post(body, room);
    })();
    await leaving;
    while (gateway.stats!().subscribers >= before) await sleep(1);
    await posted;
    // Either every one of them arrives, or the subscription says it was interrupted: never a silent gap.
    const deadline = Date.now() + 5_000;
    const received = () => stays.results.map((r) => r.data?.roomEvents.message?.body);
    const interrupted = () => stays.results.some((r) => r.errors?.[0]?.extensions?.code === 'SUBSCRIPTION_INTERRUPTED');
    while (!interrupted() && !bodies.every((b) => received().includes(b)) && Date.now() < deadline) await sleep(20);
    expect(interrupted() || bodies.every((b) => received().includes(b))).toBe(true);
  });

  it('shares one stream between IDs that differ only in letter case, given as variables or inline', async () => {
    const gateway = t.platform.services.find((s) => s.name === 'gateway')!;
    const room = (await owner.createRoomWithMessage('first')).roomId;
    const before = gateway.stats!().subscriptionGroups;
    const s = open(owner);
    const EVENTS = 'subscription($r: ID!) { roomEvents(roomId: $r) { id kind } }';
    const lower = s.subscribe(EVENTS, { r: room.toLowerCase() });
    const upper = s.subscribe(EVENTS, { r: room.toUpperCase() });
    const INLINE = (r: string) => `subscription { roomEvents(roomId: "${r}") { id kind } }`;
    const inlineLower = s.subscribe(INLINE(room.toLowerCase()));
    const inlineUpper = s.subscribe(INLINE(room.toUpperCase()));
    await live([lower, upper, inlineLower, inlineUpper], room);
    // One for the operation with a variable, one for the operation written inline.
    expect(gateway.stats!().subscriptionGroups - before).toBe(2);
    expect(upper.results.at(-1)).toEqual(lower.results.at(-1));
    expect(inlineUpper.results.at(-1)).toEqual(lower.results.at(-1));
  });

  it('refuses @skip and @include on the root field of a subscription', async () => {
    const s = open(owner);
    for (const directive of ['@include(if: false)', '@skip(if: true)']) {
      const errors = (await s.subscribe(`subscription($r: ID!) { roomEvents(roomId: $r) ${directive} { id } }`, {
        r: roomId,
      }).error) as { extensions?: { code?: string } }[];
      expect(errors[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
  });

  it("names the client's own variables when their values are invalid", async () => {
    const s = open(owner);
    const errors = (await s.subscribe('subscription Room($room: ID!) { roomEvents(roomId: $room) { id } }', {
      room: { not: 'an id' },
    }).error) as {
      message: string;
      extensions?: { code?: string };
    }[];
    expect(errors[0]).toMatchObject({
      message: expect.stringContaining('$room'),
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  it('interrupts the others, never leaves them a stream that silently stops, when the subscriber who opened it loses access', async () => {
    const created = await owner.gql(CreateTypedRoomDocument, {
      input: { name: 'members only', type: 'ALLIANCE', memberIds: [member.userId] },
    });
    const room = created.data!.createRoom.id;
    // Resolved by messaging alone, as the caller the stream was opened as.
    const EVENTS = 'subscription($r: ID!) { roomEvents(roomId: $r) { kind message { body } } }';
    const opener = open(member).subscribe<{ roomEvents: { message: { body: string } | null } }>(EVENTS, { r: room });
    await live([opener], room);
    const stays = open(owner).subscribe<{ roomEvents: { message: { body: string } | null } }>(EVENTS, { r: room });
    await live([opener, stays], room);
    await member.gql(LeaveRoomDocument, { roomId: room });
    await opener.completed;
    await post('after leaving', room);
    const deadline = Date.now() + 5_000;
    const interrupted = () => stays.results.some((r) => r.errors?.[0]?.extensions?.code === 'SUBSCRIPTION_INTERRUPTED');
    const delivered = () => stays.results.some((r) => r.data?.roomEvents.message?.body === 'after leaving');
    while (!interrupted() && !delivered() && Date.now() < deadline) await sleep(20);
    expect(interrupted() || delivered()).toBe(true);
    expect(stays.results.filter((r) => r.data && !r.data.roomEvents.message)).toEqual([]);
  });
});
