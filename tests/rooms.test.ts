import {
  ArchiveRoomDocument,
  CreateTypedRoomDocument,
  InviteToRoomDocument,
  LeaveRoomDocument,
  MessagePagesDocument,
  OpenDirectRoomDocument,
  OpenSupportRoomDocument,
  RoomsDocument,
} from './generated/graphql';
import { codes } from './support/gql';
import type { ApiClient, User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
let owner: User;
let ann: User;
let bob: User;
let outsider: User;

beforeAll(async () => {
  t = await startTestPlatform();
  owner = await t.signUp('Rooms Co');
  ann = await owner.invite();
  bob = await owner.invite();
  outsider = await t.signUp('Elsewhere Co');
});
afterAll(async () => {
  await t?.stop();
});

const history = (who: ApiClient, roomId: string) => who.gql(MessagePagesDocument, { roomId, first: 5 });
const roomIds = (who: ApiClient) => who.gql(RoomsDocument, {}).then((r) => r.data!.rooms.map((x) => x.id));

describe('rooms', () => {
  it('opens one direct room per pair of people of the tenant, visible to those two only', async () => {
    const dm = (await owner.gql(OpenDirectRoomDocument, { userId: ann.userId })).data!.openDirectRoom;
    expect(dm.type).toBe('DM');
    expect((await ann.gql(OpenDirectRoomDocument, { userId: owner.userId })).data!.openDirectRoom.id).toBe(dm.id);
    expect((await ann.sendMessage(dm.id)).errors).toBeUndefined();
    expect(codes(await bob.sendMessage(dm.id))).toEqual(['ROOM_NOT_FOUND']);
    expect(codes(await history(bob, dm.id))).toEqual(['ROOM_NOT_FOUND']);
    expect(await roomIds(bob)).not.toContain(dm.id);
    expect(await roomIds(owner)).toContain(dm.id);
    expect(codes(await owner.gql(OpenDirectRoomDocument, { userId: owner.userId }))).toEqual(['INVALID_ROOM']);
    expect(codes(await owner.gql(OpenDirectRoomDocument, { userId: outsider.userId }))).toEqual(['NOT_IN_TENANT']);
    expect(codes(await outsider.sendMessage(dm.id))).toEqual(['ROOM_NOT_FOUND']);
  });

  it('keeps alliance rooms to their members; the room owner invites, anyone may leave', async () => {
    const room = (
      await owner.gql(CreateTypedRoomDocument, {
        input: { name: 'core team', type: 'ALLIANCE', memberIds: [ann.userId] },
      })
    ).data!.createRoom;
    expect((await ann.sendMessage(room.id)).errors).toBeUndefined();
    expect(codes(await bob.sendMessage(room.id))).toEqual(['ROOM_NOT_FOUND']);
    expect(codes(await ann.gql(InviteToRoomDocument, { roomId: room.id, userId: bob.userId }))).toEqual([
      'NOT_ROOM_ADMIN',
    ]);
    expect(codes(await owner.gql(InviteToRoomDocument, { roomId: room.id, userId: outsider.userId }))).toEqual([
      'NOT_IN_TENANT',
    ]);
    await owner.gql(InviteToRoomDocument, { roomId: room.id, userId: bob.userId });
    expect((await bob.sendMessage(room.id)).errors).toBeUndefined();
    await bob.gql(LeaveRoomDocument, { roomId: room.id });
    expect(codes(await bob.sendMessage(room.id))).toEqual(['ROOM_NOT_FOUND']);
    expect(codes(await owner.gql(CreateTypedRoomDocument, { input: { name: 'x', memberIds: [ann.userId] } }))).toEqual([
      'INVALID_ROOM',
    ]);
  });

  it("gives each person a support room with the tenant's team", async () => {
    const support = (await ann.gql(OpenSupportRoomDocument, {})).data!.openSupportRoom;
    expect(support.type).toBe('SUPPORT');
    expect((await ann.gql(OpenSupportRoomDocument, {})).data!.openSupportRoom.id).toBe(support.id);
    expect((await ann.sendMessage(support.id, 'help please')).errors).toBeUndefined();
    expect((await owner.sendMessage(support.id, 'on it')).errors).toBeUndefined();
    expect(codes(await bob.sendMessage(support.id))).toEqual(['ROOM_NOT_FOUND']);
  });

  it('archives a room: history stays, nothing more can be posted', async () => {
    const room = (
      await owner.gql(CreateTypedRoomDocument, {
        input: { name: 'old project', type: 'ALLIANCE', memberIds: [ann.userId] },
      })
    ).data!.createRoom;
    await ann.sendMessage(room.id, 'last words');
    expect(codes(await ann.gql(ArchiveRoomDocument, { roomId: room.id }))).toEqual(['NOT_ROOM_ADMIN']);
    expect((await owner.gql(ArchiveRoomDocument, { roomId: room.id })).data!.archiveRoom.archivedAt).not.toBeNull();
    expect(codes(await ann.sendMessage(room.id))).toEqual(['ROOM_ARCHIVED']);
    expect((await history(ann, room.id)).data!.messages.edges.map((e) => e.node.body)).toEqual(['last words']);
  });
});
