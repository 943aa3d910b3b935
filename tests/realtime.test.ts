import {
  CreateTypedRoomDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  LeaveRoomDocument,
  MarkReadDocument,
  OpenDirectRoomDocument,
  PresencesDocument,
  ReadReceiptsDocument,
  SetPresenceDocument,
  SetRoomReadReceiptsDocument,
  SetTypingDocument,
  UnreadCountsDocument,
  UpdateTenantSettingsDocument,
} from './generated/graphql';
import { codes } from './support/gql';
import type { SignedIn, User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { connect, sleep, type WsSession } from './support/ws';

let t: TestPlatform;
let owner: User;
let ann: User;
let bob: User;
let outsider: User;
const sessions: WsSession[] = [];

beforeAll(async () => {
  t = await startTestPlatform(undefined, { PRESENCE_TTL_SECONDS: '2', TYPING_TTL_SECONDS: '3' });
  owner = await t.signUp('Live Co');
  // Fellow members see an address once it is confirmed.
  await owner.confirmEmail();
  ann = await owner.invite();
  bob = await owner.invite();
  outsider = await t.signUp('Other Co');
}, 60_000);
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.dispose()));
  await t?.stop();
});

const ws = (who: SignedIn) => {
  const s = connect(t.gatewayUrl, { authorization: `Bearer ${who.token}` });
  sessions.push(s);
  return s;
};
const alliance = (memberIds: string[]) =>
  owner
    .gql(CreateTypedRoomDocument, { input: { name: `room ${Math.random()}`, type: 'ALLIANCE', memberIds } })
    .then((r) => r.data!.createRoom.id);

const ROOM_EVENTS = `subscription($r: ID!) { roomEvents(roomId: $r) { kind roomId message { id body deleted author { email } } user { id } } }`;
type RoomEventResult = {
  roomEvents: {
    kind: string;
    message: { id: string; body: string; deleted: boolean; author: { email: string } | null } | null;
    user: { id: string } | null;
  };
};
/** Lets the gateway admit a subscription and open its upstream before events are sent. */
const settle = () => sleep(300);

describe('room events', () => {
  it('delivers added, edited and deleted messages with fields from other subgraphs', async () => {
    const roomId = await alliance([ann.userId]);
    const sub = ws(ann).subscribe<RoomEventResult>(ROOM_EVENTS, { r: roomId });
    await settle();
    const id = await owner.postMessage(roomId, 'first');
    await owner.gql(EditMessageDocument, { input: { id, body: 'first, edited' } });
    await owner.gql(DeleteMessageDocument, { id });
    const events = (await sub.waitFor(3)).map((r) => r.data!.roomEvents);
    expect(events.map((e) => e.kind)).toEqual(['MESSAGE_ADDED', 'MESSAGE_EDITED', 'MESSAGE_DELETED']);
    expect(events.every((e) => e.message!.id === id && e.message!.author!.email === owner.email)).toBe(true);
    expect(events[2].message!.deleted).toBe(true);
  });

  it("refuses someone outside the room even when a member's subscription to it is already shared", async () => {
    const roomId = await alliance([ann.userId]);
    const member = ws(ann).subscribe<RoomEventResult>(ROOM_EVENTS, { r: roomId });
    await settle();
    // Same operation, variables, tenant and rights as ann: only the subgraph's admission tells them apart.
    const intruder = ws(bob).subscribe<RoomEventResult>(ROOM_EVENTS, { r: roomId });
    const stranger = ws(outsider).subscribe<RoomEventResult>(ROOM_EVENTS, { r: roomId });
    await owner.postMessage(roomId, 'members only');
    await member.waitFor(1);
    await sleep(300);
    const firstCodes = (s: typeof intruder) =>
      s.results.flatMap((r) => (r.errors ?? []).map((e) => e.extensions?.code));
    expect(firstCodes(intruder)).toEqual(['ROOM_NOT_FOUND']);
    expect(intruder.results.every((r) => !r.data?.roomEvents)).toBe(true);
    expect(firstCodes(stranger)).toEqual(['ROOM_NOT_FOUND']);
  });

  it('ends the subscription of someone who leaves the room', async () => {
    const roomId = await alliance([ann.userId, bob.userId]);
    const annSub = ws(ann).subscribe<RoomEventResult>(ROOM_EVENTS, { r: roomId });
    const bobSub = ws(bob).subscribe<RoomEventResult>(ROOM_EVENTS, { r: roomId });
    await settle();
    await bob.gql(LeaveRoomDocument, { roomId });
    await bobSub.waitFor(1);
    expect(bobSub.results[0].errors?.[0].extensions?.code).toBe('ROOM_NOT_FOUND');
    await owner.postMessage(roomId, 'after bob left');
    await annSub.waitFor(1);
    await sleep(200);
    expect(bobSub.results.filter((r) => r.data)).toHaveLength(0);
  });
});

describe('typing', () => {
  it('shows who is typing, with an expiry, and when they stop', async () => {
    const roomId = await alliance([ann.userId]);
    const sub = ws(ann).subscribe<{ typing: { typing: boolean; expiresAt: string; user: { email: string } } }>(
      `subscription($r: ID!) { typing(roomId: $r) { typing expiresAt user { email } } }`,
      { r: roomId },
    );
    await settle();
    expect((await owner.gql(SetTypingDocument, { roomId })).data!.setTyping).toBe(true);
    await owner.gql(SetTypingDocument, { roomId, typing: false });
    const [start, stop] = (await sub.waitFor(2)).map((r) => r.data!.typing);
    expect(start.typing).toBe(true);
    expect(start.user.email).toBe(owner.email);
    const ttl = Date.parse(start.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(3_000);
    expect(stop.typing).toBe(false);
    // Posting ends the indicator too.
    await owner.gql(SetTypingDocument, { roomId });
    await owner.postMessage(roomId, 'done typing');
    const [again, posted] = (await sub.waitFor(4)).slice(2).map((r) => r.data!.typing);
    expect([again.typing, posted.typing]).toEqual([true, false]);
    expect(codes(await bob.gql(SetTypingDocument, { roomId }))).toEqual(['ROOM_NOT_FOUND']);
  });
});

describe('read receipts and unread counts', () => {
  it('counts others’ messages after the read pointer, live and after reconnecting', async () => {
    const roomId = await alliance([ann.userId]);
    const counts = ws(ann).subscribe<{ unreadCounts: { roomId: string; count: number } }>(
      `subscription { unreadCounts { roomId count } }`,
    );
    const ids = ws(ann).subscribe<{ unreadCounts: { roomId: string } }>(`subscription { unreadCounts { roomId } }`);
    await settle();
    // A room ann cannot use is never mentioned to her (not even its id), and her stream goes on.
    const dm = (await owner.gql(OpenDirectRoomDocument, { userId: bob.userId })).data!.openDirectRoom.id;
    await owner.postMessage(dm, 'between owner and bob');
    const m1 = await owner.postMessage(roomId, 'one');
    await owner.postMessage(roomId, 'two');
    await ann.postMessage(roomId, 'my own does not count');
    const live = (await counts.waitFor(2)).map((r) => r.data!.unreadCounts);
    await sleep(300);
    expect(counts.results.map((r) => r.errors)).toEqual([undefined, undefined]);
    expect(ids.results.map((r) => r.data?.unreadCounts.roomId)).toEqual([roomId, roomId]);
    expect(live).toEqual([
      { roomId, count: 1 },
      { roomId, count: 2 },
    ]);
    const afterRead = await ann.gql(MarkReadDocument, { roomId, messageId: m1 });
    expect(afterRead.data!.markRead).toEqual({ roomId, count: 1, lastReadMessageId: m1 });
    await counts.waitFor(3);
    expect(counts.results[2].data!.unreadCounts).toEqual({ roomId, count: 1 });
    // A client that was away reads the counts again: the pointer is the record.
    counts.unsubscribe();
    const m3 = await owner.postMessage(roomId, 'three');
    const now = (await ann.gql(UnreadCountsDocument, {})).data!.unreadCounts.find((c) => c.roomId === roomId)!;
    expect(now.count).toBe(2);
    // The pointer never moves backwards.
    await ann.gql(MarkReadDocument, { roomId, messageId: m3 });
    const back = await ann.gql(MarkReadDocument, { roomId, messageId: m1 });
    expect(back.data!.markRead).toEqual({ roomId, count: 0, lastReadMessageId: m3 });
    expect(codes(await bob.gql(MarkReadDocument, { roomId, messageId: m1 }))).toEqual(['ROOM_NOT_FOUND']);
  });

  it('shows read receipts to the room when public, and only to the reader when private', async () => {
    const roomId = await alliance([ann.userId, bob.userId]);
    const m = await owner.postMessage(roomId, 'read me');
    const sub = ws(bob).subscribe<RoomEventResult>(ROOM_EVENTS, { r: roomId });
    await settle();
    await ann.gql(MarkReadDocument, { roomId, messageId: m });
    const [read] = (await sub.waitFor(1)).map((r) => r.data!.roomEvents);
    expect(read).toMatchObject({ kind: 'READ', user: { id: ann.userId }, message: { id: m } });
    expect((await bob.gql(ReadReceiptsDocument, { roomId })).data!.readReceipts).toEqual([
      { userId: ann.userId, messageId: m },
    ]);

    // The tenant's policy turns private: nobody else sees anyone's pointer any more.
    await owner.gql(UpdateTenantSettingsDocument, { input: { readReceipts: 'PRIVATE' } });
    const m2 = await owner.postMessage(roomId, 'private now');
    await sub.waitFor(2); // the message itself
    let receipts = await bob.gql(ReadReceiptsDocument, { roomId });
    for (let i = 0; i < 50 && receipts.data!.readReceipts.length > 0; i++) {
      await sleep(100); // tenancy's settings reach messaging through the event bus
      receipts = await bob.gql(ReadReceiptsDocument, { roomId });
    }
    expect(receipts.data!.readReceipts).toEqual([]);
    await ann.gql(MarkReadDocument, { roomId, messageId: m2 });
    await sleep(400);
    expect(sub.results.map((r) => r.data!.roomEvents.kind)).toEqual(['READ', 'MESSAGE_ADDED']);
    expect((await ann.gql(ReadReceiptsDocument, { roomId })).data!.readReceipts).toEqual([
      { userId: ann.userId, messageId: m2 },
    ]);

    // A room may say otherwise than its tenant.
    await owner.gql(SetRoomReadReceiptsDocument, { roomId, policy: 'PUBLIC' });
    expect((await bob.gql(ReadReceiptsDocument, { roomId })).data!.readReceipts).toEqual([
      { userId: ann.userId, messageId: m2 },
    ]);
    expect(codes(await bob.gql(SetRoomReadReceiptsDocument, { roomId, policy: null }))).toEqual(['NOT_ROOM_ADMIN']);
    await owner.gql(UpdateTenantSettingsDocument, { input: { readReceipts: 'PUBLIC' } });
  });
});

describe('presence', () => {
  type PresenceResult = { presence: { status: string; page: string | null; devices: number; user: { email: string } } };
  const PRESENCE = `subscription { presence { status page devices user { email } } }`;

  it('sums devices, follows pages, and ends a device when its connection closes or its heartbeat stops', async () => {
    const watcher = ws(ann).subscribe<PresenceResult>(PRESENCE);
    const stranger = ws(outsider).subscribe<PresenceResult>(PRESENCE);
    await settle();
    // Device 1 reports over its own WebSocket connection; device 2 over HTTP.
    const laptop = ws(owner);
    const setOver = (session: WsSession, input: Record<string, unknown>) =>
      new Promise<unknown>((resolve, reject) => {
        session.client.subscribe(
          { query: 'mutation($i: SetPresenceInput!) { setPresence(input: $i) { status } }', variables: { i: input } },
          { next: resolve, error: reject, complete: () => undefined },
        );
      });
    await setOver(laptop, { deviceId: 'laptop', status: 'ONLINE', page: '/inbox' });
    const phone = await owner.gql(SetPresenceDocument, { input: { deviceId: 'phone', status: 'AWAY', page: '/home' } });
    expect(phone.data!.setPresence).toEqual({ userId: owner.userId, status: 'ONLINE', page: '/inbox', devices: 2 });
    const mine = (r: { data?: PresenceResult | null }) => r.data?.presence.user.email === owner.email;
    await watcher.waitFor(2);
    expect(watcher.results.filter(mine).map((r) => [r.data!.presence.status, r.data!.presence.devices])).toEqual([
      ['ONLINE', 1],
      ['ONLINE', 2],
    ]);
    expect((await bob.gql(PresencesDocument, {})).data!.presences).toContainEqual({
      userId: owner.userId,
      status: 'ONLINE',
      page: '/inbox',
      devices: 2,
    });

    // The laptop's connection closes: only the phone is left (away).
    await laptop.dispose();
    await watcher.waitFor(3);
    expect(watcher.results[2].data!.presence).toMatchObject({ status: 'AWAY', page: '/home', devices: 1 });

    // The phone stops sending heartbeats: offline after PRESENCE_TTL_SECONDS.
    await watcher.waitFor(4, 10_000);
    expect(watcher.results[3].data!.presence).toMatchObject({ status: 'OFFLINE', devices: 0 });
    expect(stranger.results).toEqual([]);
    expect(codes(await owner.gql(SetPresenceDocument, { input: { deviceId: '', status: 'ONLINE' } }))).toEqual([
      'INVALID_PRESENCE',
    ]);
  }, 30_000);
});
