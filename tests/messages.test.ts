import {
  DeleteMessageDocument,
  EditMessageDocument,
  MessagePagesDocument,
  SendMessageFullDocument,
} from './generated/graphql';
import { codes } from './support/gql';
import type { User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
let owner: User;
let roomId: string;
beforeAll(async () => {
  t = await startTestPlatform();
  owner = await t.signUp('Chatty');
  roomId = await owner.createRoom('lobby');
});
afterAll(async () => {
  await t?.stop();
});

const page = (vars: { first?: number; after?: string | null; before?: string | null }, room = roomId) =>
  owner.gql(MessagePagesDocument, { roomId: room, ...vars }).then((r) => r.data!.messages);

describe('messages', () => {
  it('never duplicates a retried send with the same client message id', async () => {
    const first = await owner.gql(SendMessageFullDocument, { input: { roomId, body: 'once', clientMessageId: 'c-1' } });
    const retry = await owner.gql(SendMessageFullDocument, { input: { roomId, body: 'once', clientMessageId: 'c-1' } });
    expect(retry.data!.sendMessage.id).toBe(first.data!.sendMessage.id);
    const bodies = (await page({ first: 10 })).edges.map((e) => e.node.body);
    expect(bodies.filter((b) => b === 'once')).toHaveLength(1);
    // The same id from someone else is their own message.
    const member = await owner.invite();
    const theirs = await member.gql(SendMessageFullDocument, {
      input: { roomId, body: 'once', clientMessageId: 'c-1' },
    });
    expect(theirs.data!.sendMessage.id).not.toBe(first.data!.sendMessage.id);
    expect(
      codes(
        await owner.gql(SendMessageFullDocument, { input: { roomId, body: 'x', clientMessageId: 'c'.repeat(101) } }),
      ),
    ).toEqual(['INVALID_CLIENT_MESSAGE_ID']);
  });

  it('stores text cleaned and refuses empty or oversized messages', async () => {
    const cleaned = await owner.gql(SendMessageFullDocument, {
      input: { roomId, body: '  hi\u0001\u0007 there <b>x</b> ' },
    });
    expect(cleaned.data!.sendMessage.body).toBe('hi there <b>x</b>');
    for (const body of ['', '   ', '\u0007', 'x'.repeat(4001)])
      expect(codes(await owner.gql(SendMessageFullDocument, { input: { roomId, body } }))).toEqual(['INVALID_MESSAGE']);
  });

  it('replies within a room only', async () => {
    const parent = (await owner.gql(SendMessageFullDocument, { input: { roomId, body: 'question?' } })).data!
      .sendMessage;
    const reply = await owner.gql(SendMessageFullDocument, { input: { roomId, body: 'answer', replyToId: parent.id } });
    expect(reply.data!.sendMessage.replyToId).toBe(parent.id);
    const elsewhere = await owner.createRoom('elsewhere');
    expect(
      codes(
        await owner.gql(SendMessageFullDocument, { input: { roomId: elsewhere, body: 'cross', replyToId: parent.id } }),
      ),
    ).toEqual(['MESSAGE_NOT_FOUND']);
  });

  it("lets only the author edit or delete, and keeps a deleted message's place without its text", async () => {
    const mine = (await owner.gql(SendMessageFullDocument, { input: { roomId, body: 'draft' } })).data!.sendMessage;
    const edited = await owner.gql(EditMessageDocument, { input: { id: mine.id, body: 'final' } });
    expect(edited.data!.editMessage).toMatchObject({ body: 'final' });
    expect(edited.data!.editMessage.editedAt).not.toBeNull();
    const member = await owner.invite();
    expect(codes(await member.gql(EditMessageDocument, { input: { id: mine.id, body: 'hijack' } }))).toEqual([
      'NOT_MESSAGE_AUTHOR',
    ]);
    expect(codes(await member.gql(DeleteMessageDocument, { id: mine.id }))).toEqual(['NOT_MESSAGE_AUTHOR']);
    const deleted = await owner.gql(DeleteMessageDocument, { id: mine.id });
    expect(deleted.data!.deleteMessage).toMatchObject({ body: '', deleted: true });
    expect(codes(await owner.gql(EditMessageDocument, { input: { id: mine.id, body: 'again' } }))).toEqual([
      'MESSAGE_DELETED',
    ]);
    const latest = (await page({ first: 1 })).edges[0].node;
    expect(latest).toEqual({ body: '', deleted: true });
    // Another tenant cannot touch it.
    const other = await t.signUp('Other chat');
    expect(codes(await other.gql(DeleteMessageDocument, { id: mine.id }))).toEqual(['MESSAGE_NOT_FOUND']);
  });

  it('pages through history both ways', async () => {
    const room = await owner.createRoom('paged');
    for (let i = 1; i <= 7; i++) await owner.gql(SendMessageFullDocument, { input: { roomId: room, body: `m${i}` } });
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
    expect(codes(await owner.gql(MessagePagesDocument, { roomId: room, after: 'x', before: 'y' }))).toEqual([
      'INVALID_CURSOR',
    ]);
  });
});
