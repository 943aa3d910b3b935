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
  SendMessageDocument,
  SetTypingDocument,
  UnbanMemberDocument,
  UnmuteMemberDocument,
} from './generated/graphql';
import { codes, gql } from './support/gql';
import { confirmEmail, joinByInvitation, signUp, turnOnTotp, uniqueEmail, type Account } from './support/fixtures';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { connect, sleep, type WsSession } from './support/ws';

const ROOT = uniqueEmail('root');
let t: TestPlatform;
let owner: Account;
let ann: { userId: string; token: string };
let bob: { userId: string; token: string };
let root: Account;
let roomId: string;
const sessions: WsSession[] = [];

beforeAll(async () => {
  t = await startTestPlatform(undefined, { SUPER_ADMIN_EMAILS: ROOT });
  owner = await signUp(t.gatewayUrl, 'Moderated Co');
  ann = await joinByInvitation(t.gatewayUrl, t.config, owner);
  bob = await joinByInvitation(t.gatewayUrl, t.config, owner);
  root = await signUp(t.gatewayUrl, 'Platform Ops', ROOT);
  // A Super Admin by configuration holds the address confirmed.
  await confirmEmail(t.gatewayUrl, t.config, ROOT);
  await turnOnTotp(t.gatewayUrl, root.token);
  roomId = (
    await gql(
      t.gatewayUrl,
      CreateTypedRoomDocument,
      { input: { name: 'town hall', type: 'GENERAL' } },
      { token: owner.token },
    )
  ).data!.createRoom.id;
}, 60_000);
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.dispose()));
  await t?.stop();
});

const send = (who: { token: string }, body: string, room = roomId) =>
  gql(t.gatewayUrl, SendMessageDocument, { input: { roomId: room, body } }, { token: who.token });
const input = (userId: string, reason: string, minutes?: number) => ({ input: { roomId, userId, reason, minutes } });
const log = () =>
  gql(t.gatewayUrl, ModerationLogDocument, { roomId }, { token: owner.token }).then((r) => r.data!.moderationLog);

describe('moderation', () => {
  it('mutes with an expiry: posting and typing are refused until it ends', async () => {
    const muted = await gql(t.gatewayUrl, MuteMemberDocument, input(ann.userId, 'flooding', 10), {
      token: owner.token,
    });
    expect(muted.data!.muteMember.action).toBe('MUTE');
    expect(Date.parse(muted.data!.muteMember.until!) - Date.now()).toBeGreaterThan(9 * 60_000);
    const refused = await send(ann, 'still here');
    expect(codes(refused)).toEqual(['MEMBER_MUTED']);
    expect(refused.errors![0].extensions!.until).toBe(muted.data!.muteMember.until);
    expect(codes(await gql(t.gatewayUrl, SetTypingDocument, { roomId }, { token: ann.token }))).toEqual([
      'MEMBER_MUTED',
    ]);
    const history = await gql(t.gatewayUrl, MessagesDocument, { roomId }, { token: owner.token });
    expect(history.data!.messages.edges.map((e) => e.node.body)).not.toContain('still here');

    // Ten minutes pass (the mute's end moved into the past): ann may post again.
    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    await db.query(
      `UPDATE messaging.room_sanctions SET until = now() - interval '1 second' WHERE user_id = $1 AND kind = 'mute'`,
      [ann.userId],
    );
    await db.end();
    expect((await send(ann, 'back again')).errors).toBeUndefined();

    await gql(t.gatewayUrl, MuteMemberDocument, input(ann.userId, 'again'), { token: owner.token });
    expect(codes(await send(ann, 'muted until lifted'))).toEqual(['MEMBER_MUTED']);
    await gql(t.gatewayUrl, UnmuteMemberDocument, input(ann.userId, 'calmed down'), { token: owner.token });
    expect((await send(ann, 'unmuted')).errors).toBeUndefined();
  });

  it('bans: the room closes to them at once, live subscription included, until unbanned', async () => {
    const s = connect(t.gatewayUrl, { authorization: `Bearer ${bob.token}` });
    sessions.push(s);
    const sub = s.subscribe<{ roomEvents: { kind: string } }>(
      `subscription($r: ID!) { roomEvents(roomId: $r) { kind } }`,
      { r: roomId },
    );
    await sleep(300);
    await gql(t.gatewayUrl, BanMemberDocument, input(bob.userId, 'abuse'), { token: owner.token });
    await sub.waitFor(1);
    expect(sub.results[0].errors?.[0].extensions?.code).toBe('BANNED_FROM_ROOM');
    await send(owner, 'after the ban');
    await sleep(300);
    expect(sub.results.filter((r) => r.data)).toHaveLength(0);
    expect(codes(await send(bob, 'let me in'))).toEqual(['BANNED_FROM_ROOM']);
    expect(codes(await gql(t.gatewayUrl, MessagesDocument, { roomId }, { token: bob.token }))).toEqual([
      'BANNED_FROM_ROOM',
    ]);
    await gql(t.gatewayUrl, UnbanMemberDocument, input(bob.userId, 'appeal accepted'), { token: owner.token });
    expect((await send(bob, 'thanks')).errors).toBeUndefined();
  });

  it('removes members of members-only rooms; deletes anyone’s message with a reason; logs every action', async () => {
    const alliance = (
      await gql(
        t.gatewayUrl,
        CreateTypedRoomDocument,
        { input: { name: 'crew', type: 'ALLIANCE', memberIds: [ann.userId] } },
        { token: owner.token },
      )
    ).data!.createRoom.id;
    const removed = await gql(
      t.gatewayUrl,
      RemoveMemberDocument,
      { input: { roomId: alliance, userId: ann.userId, reason: 'left the crew' } },
      { token: owner.token },
    );
    expect(removed.data!.removeMember.action).toBe('REMOVE');
    expect(codes(await send(ann, 'hello?', alliance))).toEqual(['ROOM_NOT_FOUND']);
    expect(
      codes(
        await gql(t.gatewayUrl, RemoveMemberDocument, input(ann.userId, 'general rooms have no members'), {
          token: owner.token,
        }),
      ),
    ).toEqual(['INVALID_MODERATION']);

    const id = (await send(bob, 'something rude')).data!.sendMessage.id;
    expect(codes(await gql(t.gatewayUrl, DeleteMessageAsModeratorDocument, { id }, { token: ann.token }))).toEqual([
      'NOT_MESSAGE_AUTHOR',
    ]);
    expect(codes(await gql(t.gatewayUrl, DeleteMessageAsModeratorDocument, { id }, { token: owner.token }))).toEqual([
      'INVALID_MODERATION',
    ]);
    const deleted = await gql(
      t.gatewayUrl,
      DeleteMessageAsModeratorDocument,
      { id, reason: 'rude' },
      { token: owner.token },
    );
    expect(deleted.data!.deleteMessage).toEqual({ id, deleted: true, body: '' });

    // Members cannot moderate; admins cannot sanction the owner or each other; owners can sanction admins.
    expect(
      codes(await gql(t.gatewayUrl, BanMemberDocument, input(owner.userId, 'coup'), { token: ann.token })),
    ).toEqual(['FORBIDDEN']);
    const admin = await joinByInvitation(t.gatewayUrl, t.config, owner, 'admin');
    const otherAdmin = await joinByInvitation(t.gatewayUrl, t.config, owner, 'admin');
    expect(
      codes(await gql(t.gatewayUrl, MuteMemberDocument, input(owner.userId, 'coup', 5), { token: admin.token })),
    ).toEqual(['INVALID_MODERATION']);
    expect(
      codes(
        await gql(t.gatewayUrl, MuteMemberDocument, input(otherAdmin.userId, 'rivalry', 5), { token: admin.token }),
      ),
    ).toEqual(['INVALID_MODERATION']);
    expect(
      (await gql(t.gatewayUrl, MuteMemberDocument, input(admin.userId, 'cool down', 5), { token: owner.token })).errors,
    ).toBeUndefined();
    await gql(t.gatewayUrl, UnmuteMemberDocument, input(admin.userId, 'done'), { token: owner.token });
    // A promotion reaches messaging from identity's event: the new admin is out of other admins' reach.
    await gql(
      t.gatewayUrl,
      AssignRoleDocument,
      { input: { userId: bob.userId, roleId: 'admin' } },
      { token: owner.token },
    );
    let promoted = codes(
      await gql(t.gatewayUrl, MuteMemberDocument, input(bob.userId, 'x', 5), { token: admin.token }),
    );
    for (let i = 0; i < 50 && promoted[0] !== 'INVALID_MODERATION'; i++) {
      await gql(t.gatewayUrl, UnmuteMemberDocument, input(bob.userId, 'retry'), { token: owner.token });
      await sleep(100);
      promoted = codes(await gql(t.gatewayUrl, MuteMemberDocument, input(bob.userId, 'x', 5), { token: admin.token }));
    }
    expect(promoted).toEqual(['INVALID_MODERATION']);
    await gql(
      t.gatewayUrl,
      AssignRoleDocument,
      { input: { userId: bob.userId, roleId: 'member' } },
      { token: owner.token },
    );
    expect(
      codes(await gql(t.gatewayUrl, MuteMemberDocument, input(owner.userId, 'self', 0), { token: owner.token })),
    ).toEqual(['INVALID_MODERATION']);

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
    expect(codes(await gql(t.gatewayUrl, ModerationLogDocument, { roomId }, { token: ann.token }))).toEqual([
      'FORBIDDEN',
    ]);
  });

  it('lets a Super Admin read a room without joining it, each read logged in that tenant', async () => {
    const read = await gql(
      t.gatewayUrl,
      ObserveRoomDocument,
      { tenantId: owner.tenantId, roomId, reason: 'abuse report #12' },
      { token: root.token },
    );
    expect(read.data!.observeRoom.edges.map((e) => e.node.body)).toContain('thanks');
    const [latest] = await log();
    expect(latest).toMatchObject({
      action: 'OBSERVE',
      actorId: root.userId,
      reason: 'abuse report #12',
      targetUserId: null,
    });
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          ObserveRoomDocument,
          { tenantId: root.tenantId, roomId, reason: 'x' },
          { token: owner.token },
        ),
      ),
    ).toEqual(['FORBIDDEN']);
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          ObserveRoomDocument,
          { tenantId: owner.tenantId, roomId, reason: '' },
          { token: root.token },
        ),
      ),
    ).toEqual(['INVALID_MODERATION']);
  });
});
