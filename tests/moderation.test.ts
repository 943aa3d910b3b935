import { Client } from 'pg';
import {
  AssignRoleDocument,
  BanMemberDocument,
  CreateTypedRoomDocument,
  DeleteMessageAsModeratorDocument,
  MessagesDocument,
  ModerationLogDocument,
  MuteMemberDocument,
  ObserveRoomDocument,
  RemoveMemberDocument,
  SetTypingDocument,
  UnbanMemberDocument,
  UnmuteMemberDocument,
} from './generated/graphql';
import { codes } from './support/gql';
import { uniqueEmail } from './support/fixtures';
import type { User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { connect, sleep, type WsSession } from './support/ws';

const ROOT = uniqueEmail('root');
let t: TestPlatform;
let owner: User;
let ann: User;
let bob: User;
let root: User;
let roomId: string;
const sessions: WsSession[] = [];

beforeAll(async () => {
  t = await startTestPlatform(undefined, { SUPER_ADMIN_EMAILS: ROOT });
  owner = await t.signUp('Moderated Co');
  ann = await owner.invite();
  bob = await owner.invite();
  root = await t.signUp('Platform Ops', ROOT);
  // A Super Admin by configuration holds the address confirmed.
  await root.confirmEmail();
  await root.turnOnTotp();
  roomId = (await owner.gql(CreateTypedRoomDocument, { input: { name: 'town hall', type: 'GENERAL' } })).data!
    .createRoom.id;
}, 60_000);
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.dispose()));
  await t?.stop();
});

const input = (userId: string, reason: string, minutes?: number) => ({ input: { roomId, userId, reason, minutes } });
const log = () => owner.gql(ModerationLogDocument, { roomId }).then((r) => r.data!.moderationLog);

describe('moderation', () => {
  it('mutes with an expiry: posting and typing are refused until it ends', async () => {
    const muted = await owner.gql(MuteMemberDocument, input(ann.userId, 'flooding', 10));
    expect(muted.data!.muteMember.action).toBe('MUTE');
    expect(Date.parse(muted.data!.muteMember.until!) - Date.now()).toBeGreaterThan(9 * 60_000);
    const refused = await ann.sendMessage(roomId, 'still here');
    expect(codes(refused)).toEqual(['MEMBER_MUTED']);
    expect(refused.errors![0].extensions!.until).toBe(muted.data!.muteMember.until);
    expect(codes(await ann.gql(SetTypingDocument, { roomId }))).toEqual(['MEMBER_MUTED']);
    const history = await owner.gql(MessagesDocument, { roomId });
    expect(history.data!.messages.edges.map((e) => e.node.body)).not.toContain('still here');

    // Ten minutes pass (the mute's end moved into the past): ann may post again.
    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    await db.query(
      `UPDATE messaging.room_sanctions SET until = now() - interval '1 second' WHERE user_id = $1 AND kind = 'mute'`,
      [ann.userId],
    );
    await db.end();
    expect((await ann.sendMessage(roomId, 'back again')).errors).toBeUndefined();

    await owner.gql(MuteMemberDocument, input(ann.userId, 'again'));
    expect(codes(await ann.sendMessage(roomId, 'muted until lifted'))).toEqual(['MEMBER_MUTED']);
    await owner.gql(UnmuteMemberDocument, input(ann.userId, 'calmed down'));
    expect((await ann.sendMessage(roomId, 'unmuted')).errors).toBeUndefined();
  });

  it('bans: the room closes to them at once, live subscription included, until unbanned', async () => {
    const s = connect(t.gatewayUrl, { authorization: `Bearer ${bob.token}` });
    sessions.push(s);
    const sub = s.subscribe<{ roomEvents: { kind: string } }>(
      `subscription($r: ID!) { roomEvents(roomId: $r) { kind } }`,
      { r: roomId },
    );
    await sleep(300);
    await owner.gql(BanMemberDocument, input(bob.userId, 'abuse'));
    await sub.waitFor(1);
    expect(sub.results[0].errors?.[0].extensions?.code).toBe('BANNED_FROM_ROOM');
    await owner.sendMessage(roomId, 'after the ban');
    await sleep(300);
    expect(sub.results.filter((r) => r.data)).toHaveLength(0);
    expect(codes(await bob.sendMessage(roomId, 'let me in'))).toEqual(['BANNED_FROM_ROOM']);
    expect(codes(await bob.gql(MessagesDocument, { roomId }))).toEqual(['BANNED_FROM_ROOM']);
    await owner.gql(UnbanMemberDocument, input(bob.userId, 'appeal accepted'));
    expect((await bob.sendMessage(roomId, 'thanks')).errors).toBeUndefined();
  });

  it('removes members of members-only rooms; deletes anyone’s message with a reason; logs every action', async () => {
    const alliance = (
      await owner.gql(CreateTypedRoomDocument, { input: { name: 'crew', type: 'ALLIANCE', memberIds: [ann.userId] } })
    ).data!.createRoom.id;
    const removed = await owner.gql(RemoveMemberDocument, {
      input: { roomId: alliance, userId: ann.userId, reason: 'left the crew' },
    });
    expect(removed.data!.removeMember.action).toBe('REMOVE');
    expect(codes(await ann.sendMessage(alliance, 'hello?'))).toEqual(['ROOM_NOT_FOUND']);
    expect(codes(await owner.gql(RemoveMemberDocument, input(ann.userId, 'general rooms have no members')))).toEqual([
      'INVALID_MODERATION',
    ]);

    const id = (await bob.sendMessage(roomId, 'something rude')).data!.sendMessage.id;
    expect(codes(await ann.gql(DeleteMessageAsModeratorDocument, { id }))).toEqual(['NOT_MESSAGE_AUTHOR']);
    expect(codes(await owner.gql(DeleteMessageAsModeratorDocument, { id }))).toEqual(['INVALID_MODERATION']);
    const deleted = await owner.gql(DeleteMessageAsModeratorDocument, { id, reason: 'rude' });
    expect(deleted.data!.deleteMessage).toEqual({ id, deleted: true, body: '' });

    // Members cannot moderate; admins cannot sanction the owner or each other; owners can sanction admins.
    expect(codes(await ann.gql(BanMemberDocument, input(owner.userId, 'coup')))).toEqual(['FORBIDDEN']);
    const admin = await owner.invite('admin');
    const otherAdmin = await owner.invite('admin');
    expect(codes(await admin.gql(MuteMemberDocument, input(owner.userId, 'coup', 5)))).toEqual(['INVALID_MODERATION']);
    expect(codes(await admin.gql(MuteMemberDocument, input(otherAdmin.userId, 'rivalry', 5)))).toEqual([
      'INVALID_MODERATION',
    ]);
    expect((await owner.gql(MuteMemberDocument, input(admin.userId, 'cool down', 5))).errors).toBeUndefined();
    await owner.gql(UnmuteMemberDocument, input(admin.userId, 'done'));
    // A promotion reaches messaging from identity's event: the new admin is out of other admins' reach.
    await owner.gql(AssignRoleDocument, { input: { userId: bob.userId, roleId: 'admin' } });
    let promoted = codes(await admin.gql(MuteMemberDocument, input(bob.userId, 'x', 5)));
    for (let i = 0; i < 50 && promoted[0] !== 'INVALID_MODERATION'; i++) {
      await owner.gql(UnmuteMemberDocument, input(bob.userId, 'retry'));
      await sleep(100);
      promoted = codes(await admin.gql(MuteMemberDocument, input(bob.userId, 'x', 5)));
    }
    expect(promoted).toEqual(['INVALID_MODERATION']);
    await owner.gql(AssignRoleDocument, { input: { userId: bob.userId, roleId: 'member' } });
    expect(codes(await owner.gql(MuteMemberDocument, input(owner.userId, 'self', 0)))).toEqual(['INVALID_MODERATION']);

    const entries = await log();
    const history = entries.filter(
      (e) => e.targetUserId !== bob.userId || ['DELETE_MESSAGE', 'BAN', 'UNBAN'].includes(e.action),
    );
    expect(history.slice(2).map((e) => [e.action, e.targetUserId, e.reason])).toEqual([
      ['DELETE_MESSAGE', bob.userId, 'rude'],
      ['UNBAN', bob.userId, 'appeal accepted'],
      ['BAN', bob.userId, 'abuse'],
      ['UNMUTE', ann.userId, 'calmed down'],
      ['MUTE', ann.userId, 'again'],
      ['MUTE', ann.userId, 'flooding'],
    ]);
    expect(history.every((e) => e.actorId === owner.userId && e.actor?.email === owner.email)).toBe(true);
    expect(history.slice(0, 2).map((e) => e.action)).toEqual(['UNMUTE', 'MUTE']);
    expect(history[2].messageId).toBe(id);
    expect(codes(await ann.gql(ModerationLogDocument, { roomId }))).toEqual(['FORBIDDEN']);
  });

  it('lets a Super Admin read a room without joining it, each read logged in that tenant', async () => {
    const read = await root.gql(ObserveRoomDocument, { tenantId: owner.tenantId, roomId, reason: 'abuse report #12' });
    expect(read.data!.observeRoom.edges.map((e) => e.node.body)).toContain('thanks');
    const [latest] = await log();
    expect(latest).toMatchObject({
      action: 'OBSERVE',
      actorId: root.userId,
      reason: 'abuse report #12',
      targetUserId: null,
    });
    expect(codes(await owner.gql(ObserveRoomDocument, { tenantId: root.tenantId, roomId, reason: 'x' }))).toEqual([
      'FORBIDDEN',
    ]);
    expect(codes(await root.gql(ObserveRoomDocument, { tenantId: owner.tenantId, roomId, reason: '' }))).toEqual([
      'INVALID_MODERATION',
    ]);
  });
});
