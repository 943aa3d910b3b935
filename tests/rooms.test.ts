import {
  ArchiveRoomDocument,
  CreateTypedRoomDocument,
  InviteToRoomDocument,
  LeaveRoomDocument,
  MessagePagesDocument,
  OpenDirectRoomDocument,
  OpenSupportRoomDocument,
  RoomsDocument,
  SendMessageDocument,
} from './generated/graphql';
import { codes, gql } from './support/gql';
import { joinByInvitation, signUp, type Account } from './support/fixtures';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
let owner: Account;
let ann: { userId: string; token: string };
let bob: { userId: string; token: string };
let outsider: Account;

beforeAll(async () => {
  t = await startTestPlatform();
  owner = await signUp(t.gatewayUrl, 'Rooms Co');
  ann = await joinByInvitation(t.gatewayUrl, t.config, owner);
  bob = await joinByInvitation(t.gatewayUrl, t.config, owner);
  outsider = await signUp(t.gatewayUrl, 'Elsewhere Co');
});
afterAll(async () => {
  await t?.stop();
});

const send = (who: { token: string }, roomId: string, body = 'hi') =>
  gql(t.gatewayUrl, SendMessageDocument, { input: { roomId, body } }, { token: who.token });
const history = (who: { token: string }, roomId: string) =>
  gql(t.gatewayUrl, MessagePagesDocument, { roomId, first: 5 }, { token: who.token });
const roomIds = (who: { token: string }) =>
  gql(t.gatewayUrl, RoomsDocument, {}, { token: who.token }).then((r) => r.data!.rooms.map((x) => x.id));

describe('rooms', () => {
  it('opens one direct room per pair of people of the tenant, visible to those two only', async () => {
    const dm = (await gql(t.gatewayUrl, OpenDirectRoomDocument, { userId: ann.userId }, { token: owner.token })).data!
      .openDirectRoom;
    expect(dm.type).toBe('DM');
    expect(
      (await gql(t.gatewayUrl, OpenDirectRoomDocument, { userId: owner.userId }, { token: ann.token })).data!
        .openDirectRoom.id,
    ).toBe(dm.id);
    expect((await send(ann, dm.id)).errors).toBeUndefined();
    expect(codes(await send(bob, dm.id))).toEqual(['ROOM_NOT_FOUND']);
    expect(codes(await history(bob, dm.id))).toEqual(['ROOM_NOT_FOUND']);
    expect(await roomIds(bob)).not.toContain(dm.id);
    expect(await roomIds(owner)).toContain(dm.id);
    expect(
      codes(await gql(t.gatewayUrl, OpenDirectRoomDocument, { userId: owner.userId }, { token: owner.token })),
    ).toEqual(['INVALID_ROOM']);
    expect(
      codes(await gql(t.gatewayUrl, OpenDirectRoomDocument, { userId: outsider.userId }, { token: owner.token })),
    ).toEqual(['NOT_IN_TENANT']);
    expect(codes(await send(outsider, dm.id))).toEqual(['ROOM_NOT_FOUND']);
  });

  it('keeps alliance rooms to their members; the room owner invites, anyone may leave', async () => {
    const room = (
      await gql(
        t.gatewayUrl,
        CreateTypedRoomDocument,
        { input: { name: 'core team', type: 'ALLIANCE', memberIds: [ann.userId] } },
        { token: owner.token },
      )
    ).data!.createRoom;
    expect((await send(ann, room.id)).errors).toBeUndefined();
    expect(codes(await send(bob, room.id))).toEqual(['ROOM_NOT_FOUND']);
    expect(
      codes(
        await gql(t.gatewayUrl, InviteToRoomDocument, { roomId: room.id, userId: bob.userId }, { token: ann.token }),
      ),
    ).toEqual(['NOT_ROOM_ADMIN']);
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          InviteToRoomDocument,
          { roomId: room.id, userId: outsider.userId },
          { token: owner.token },
        ),
      ),
    ).toEqual(['NOT_IN_TENANT']);
    await gql(t.gatewayUrl, InviteToRoomDocument, { roomId: room.id, userId: bob.userId }, { token: owner.token });
    expect((await send(bob, room.id)).errors).toBeUndefined();
    await gql(t.gatewayUrl, LeaveRoomDocument, { roomId: room.id }, { token: bob.token });
    expect(codes(await send(bob, room.id))).toEqual(['ROOM_NOT_FOUND']);
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          CreateTypedRoomDocument,
          { input: { name: 'x', memberIds: [ann.userId] } },
          { token: owner.token },
        ),
      ),
    ).toEqual(['INVALID_ROOM']);
  });

  it("gives each person a support room with the tenant's team", async () => {
    const support = (await gql(t.gatewayUrl, OpenSupportRoomDocument, {}, { token: ann.token })).data!.openSupportRoom;
    expect(support.type).toBe('SUPPORT');
    expect((await gql(t.gatewayUrl, OpenSupportRoomDocument, {}, { token: ann.token })).data!.openSupportRoom.id).toBe(
      support.id,
    );
    expect((await send(ann, support.id, 'help please')).errors).toBeUndefined();
    expect((await send(owner, support.id, 'on it')).errors).toBeUndefined();
    expect(codes(await send(bob, support.id))).toEqual(['ROOM_NOT_FOUND']);
  });

  it('archives a room: history stays, nothing more can be posted', async () => {
    const room = (
      await gql(
        t.gatewayUrl,
        CreateTypedRoomDocument,
        { input: { name: 'old project', type: 'ALLIANCE', memberIds: [ann.userId] } },
        { token: owner.token },
      )
    ).data!.createRoom;
    await send(ann, room.id, 'last words');
    expect(codes(await gql(t.gatewayUrl, ArchiveRoomDocument, { roomId: room.id }, { token: ann.token }))).toEqual([
      'NOT_ROOM_ADMIN',
    ]);
    expect(
      (await gql(t.gatewayUrl, ArchiveRoomDocument, { roomId: room.id }, { token: owner.token })).data!.archiveRoom
        .archivedAt,
    ).not.toBeNull();
    expect(codes(await send(ann, room.id))).toEqual(['ROOM_ARCHIVED']);
    expect((await history(ann, room.id)).data!.messages.edges.map((e) => e.node.body)).toEqual(['last words']);
  });
});
