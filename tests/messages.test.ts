import {
  CreateRoomDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  MessagePagesDocument,
  SendMessageFullDocument,
} from './generated/graphql';
import { codes, gql } from './support/gql';
import { joinByInvitation, signUp, type Account } from './support/fixtures';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
let owner: Account;
let roomId: string;
beforeAll(async () => {
  t = await startTestPlatform();
  owner = await signUp(t.gatewayUrl, 'Chatty');
  roomId = (await gql(t.gatewayUrl, CreateRoomDocument, { input: { name: 'lobby' } }, { token: owner.token })).data!
    .createRoom.id;
});
afterAll(async () => {
  await t?.stop();
});

const send = (
  account: { token: string },
  input: { roomId: string; body: string; clientMessageId?: string; replyToId?: string },
) => gql(t.gatewayUrl, SendMessageFullDocument, { input }, { token: account.token });
const page = (vars: { first?: number; after?: string | null; before?: string | null }, room = roomId) =>
  gql(t.gatewayUrl, MessagePagesDocument, { roomId: room, ...vars }, { token: owner.token }).then(
    (r) => r.data!.messages,
  );

describe('messages', () => {
  it('never duplicates a retried send with the same client message id', async () => {
    const first = await send(owner, { roomId, body: 'once', clientMessageId: 'c-1' });
    const retry = await send(owner, { roomId, body: 'once', clientMessageId: 'c-1' });
    expect(retry.data!.sendMessage.id).toBe(first.data!.sendMessage.id);
    const bodies = (await page({ first: 10 })).edges.map((e) => e.node.body);
    expect(bodies.filter((b) => b === 'once')).toHaveLength(1);
    // The same id from someone else is their own message.
    const member = await joinByInvitation(t.gatewayUrl, t.config, owner);
    const theirs = await send(member, { roomId, body: 'once', clientMessageId: 'c-1' });
    expect(theirs.data!.sendMessage.id).not.toBe(first.data!.sendMessage.id);
    expect(codes(await send(owner, { roomId, body: 'x', clientMessageId: 'c'.repeat(101) }))).toEqual([
      'INVALID_CLIENT_MESSAGE_ID',
    ]);
  });

  it('stores text cleaned and refuses empty or oversized messages', async () => {
    const cleaned = await send(owner, { roomId, body: '  hi\u0001\u0007 there <b>x</b> ' });
    expect(cleaned.data!.sendMessage.body).toBe('hi there <b>x</b>');
    for (const body of ['', '   ', '\u0007', 'x'.repeat(4001)])
      expect(codes(await send(owner, { roomId, body }))).toEqual(['INVALID_MESSAGE']);
  });

  it('replies within a room only', async () => {
    const parent = (await send(owner, { roomId, body: 'question?' })).data!.sendMessage;
    const reply = await send(owner, { roomId, body: 'answer', replyToId: parent.id });
    expect(reply.data!.sendMessage.replyToId).toBe(parent.id);
    const elsewhere = (
      await gql(t.gatewayUrl, CreateRoomDocument, { input: { name: 'elsewhere' } }, { token: owner.token })
    ).data!.createRoom.id;
    expect(codes(await send(owner, { roomId: elsewhere, body: 'cross', replyToId: parent.id }))).toEqual([
      'MESSAGE_NOT_FOUND',
    ]);
  });

  it("lets only the author edit or delete, and keeps a deleted message's place without its text", async () => {
    const mine = (await send(owner, { roomId, body: 'draft' })).data!.sendMessage;
    const edited = await gql(
      t.gatewayUrl,
      EditMessageDocument,
      { input: { id: mine.id, body: 'final' } },
      { token: owner.token },
    );
    expect(edited.data!.editMessage).toMatchObject({ body: 'final' });
    expect(edited.data!.editMessage.editedAt).not.toBeNull();
    const member = await joinByInvitation(t.gatewayUrl, t.config, owner);
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          EditMessageDocument,
          { input: { id: mine.id, body: 'hijack' } },
          { token: member.token },
        ),
      ),
    ).toEqual(['NOT_MESSAGE_AUTHOR']);
    expect(codes(await gql(t.gatewayUrl, DeleteMessageDocument, { id: mine.id }, { token: member.token }))).toEqual([
      'NOT_MESSAGE_AUTHOR',
    ]);
    const deleted = await gql(t.gatewayUrl, DeleteMessageDocument, { id: mine.id }, { token: owner.token });
    expect(deleted.data!.deleteMessage).toMatchObject({ body: '', deleted: true });
    expect(
      codes(
        await gql(t.gatewayUrl, EditMessageDocument, { input: { id: mine.id, body: 'again' } }, { token: owner.token }),
      ),
    ).toEqual(['MESSAGE_DELETED']);
    const latest = (await page({ first: 1 })).edges[0].node;
    expect(latest).toEqual({ body: '', deleted: true });
    // Another tenant cannot touch it.
    const other = await signUp(t.gatewayUrl, 'Other chat');
    expect(codes(await gql(t.gatewayUrl, DeleteMessageDocument, { id: mine.id }, { token: other.token }))).toEqual([
      'MESSAGE_NOT_FOUND',
    ]);
  });

  it('pages through history both ways', async () => {
    const room = (await gql(t.gatewayUrl, CreateRoomDocument, { input: { name: 'paged' } }, { token: owner.token }))
      .data!.createRoom.id;
    for (let i = 1; i <= 7; i++) await send(owner, { roomId: room, body: `m${i}` });
    const newest = await page({ first: 3 }, room);
    expect(newest.edges.map((e) => e.node.body)).toEqual(['m7', 'm6', 'm5']);
    expect(newest.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const older = await page({ first: 3, after: newest.pageInfo.endCursor }, room);
    expect(older.edges.map((e) => e.node.body)).toEqual(['m4', 'm3', 'm2']);
    const oldest = await page({ first: 3, after: older.pageInfo.endCursor }, room);
    expect(oldest.edges.map((e) => e.node.body)).toEqual(['m1']);
    expect(oldest.pageInfo.hasNextPage).toBe(false);
    // Back towards the present from the oldest page.
    const newer = await page({ first: 2, before: oldest.pageInfo.startCursor }, room);
    expect(newer.edges.map((e) => e.node.body)).toEqual(['m3', 'm2']);
    expect(newer.pageInfo.hasPreviousPage).toBe(true);
    const newer2 = await page({ first: 10, before: newer.pageInfo.startCursor }, room);
    expect(newer2.edges.map((e) => e.node.body)).toEqual(['m7', 'm6', 'm5', 'm4']);
    expect(newer2.pageInfo.hasPreviousPage).toBe(false);
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          MessagePagesDocument,
          { roomId: room, after: 'x', before: 'y' },
          { token: owner.token },
        ),
      ),
    ).toEqual(['INVALID_CURSOR']);
  });
});
