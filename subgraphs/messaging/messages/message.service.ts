import { randomUUID } from 'node:crypto';
import { In, type EntityManager } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { MessagingErrorCode, messagingError } from '../messaging.errors';
import { Room } from '../rooms/room.entity';
import { canUseRoom, cleanText, usableRoom } from '../rooms/room.service';
import { RoomEventKind, publishRoomEvent, publishTyping } from '../realtime/room-events';
import { assertNotMuted, logModeration } from '../moderation/sanctions';
import { Message } from './message.entity';
import { MESSAGE_MAX_LENGTH, type MessageConnection, type SendMessageInput } from './message.types';
import { isUuid, returningRows } from '../../../kernel/db/values';
import { hasPermission } from '../../../kernel/auth';
import { TEXT_LIMITS } from '../../../kernel/text';
import type { MessageSnapshot } from '../../../kernel/contracts/topics';
import { noteEffect, spend } from '../../../kernel/admission';

const PAGE_MAX = 100;

export class MessageService {
  constructor(private readonly deps: SubgraphDeps) {}

  /**
   * Posts a message. With a clientMessageId, a retry of the same send returns the message already stored
   * (and announces nothing new, uses no quota: it is accepted even at the tenant's messages limit); a reply
   * must point at a message of the same room.
   */
  async send(ctx: RequestContext, input: SendMessageInput): Promise<Message> {
    const body = checkedBody(input.body);
    const clientId =
      input.clientMessageId === undefined || input.clientMessageId === null ? null : input.clientMessageId;
    if (
      clientId !== null &&
      (typeof clientId !== 'string' || clientId.length < 1 || clientId.length > TEXT_LIMITS.clientMessageId)
    ) {
      throw messagingError(MessagingErrorCode.INVALID_CLIENT_MESSAGE_ID);
    }
    const { message, created } = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const room = await this.roomIn(em, ctx, tenantId, input.roomId);
      if (room.archivedAt) throw messagingError(MessagingErrorCode.ROOM_ARCHIVED);
      await assertNotMuted(em, tenantId, room.id, ctx.userId!);
      let replyToId: string | null = null;
      if (input.replyToId !== undefined && input.replyToId !== null) {
        const parent = isUuid(input.replyToId) ? await em.findOneBy(Message, { tenantId, id: input.replyToId }) : null;
        if (!parent || parent.roomId !== room.id)
          throw messagingError(MessagingErrorCode.MESSAGE_NOT_FOUND, 'The message replied to is not in this room');
        replyToId = parent.id;
      }
      const id = randomUUID();
      const inserted = returningRows<{ id: string }>(
        await em.query(
          `INSERT INTO messaging.messages (tenant_id, id, room_id, author_id, body, client_message_id, reply_to_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (tenant_id, room_id, author_id, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING
           RETURNING id`,
          [tenantId, id, room.id, ctx.userId, body, clientId, replyToId],
        ),
      );
      // A new message uses one of the tenant's messages (refused past what the gateway granted); a retry does not.
      if (inserted.length) spend(tenantId, 'messages', 'sendMessage');
      const saved = inserted.length
        ? await em.findOneByOrFail(Message, { tenantId, id })
        : await em.findOneByOrFail(Message, {
            tenantId,
            roomId: room.id,
            authorId: ctx.userId!,
            clientMessageId: clientId!,
          });
      return { message: Object.assign(saved, { room }), created: inserted.length > 0 };
    });
    // Realtime is best effort once committed: a subscriber that misses it reads it from history.
    if (created) {
      noteEffect(message.tenantId, 'messages');
      await this.announce(message, RoomEventKind.MESSAGE_ADDED);
      // Whoever posted has stopped typing.
      await publishTyping(this.deps, {
        tenantId: message.tenantId,
        roomId: message.roomId,
        userId: ctx.userId!,
        typing: false,
        expiresAt: Date.now(),
      });
    }
    return message;
  }

  private announce(message: Message, kind: RoomEventKind): Promise<void> {
    return publishRoomEvent(this.deps, {
      tenantId: message.tenantId,
      roomId: message.roomId,
      kind,
      messageId: message.id,
      userId: message.authorId,
      snapshot: kind === RoomEventKind.MESSAGE_ADDED ? toEvent(message) : undefined,
    });
  }

  /** The author changes the text of a message (not once deleted, not while muted). */
  async edit(ctx: RequestContext, id: string, rawBody: string): Promise<Message> {
    const body = checkedBody(rawBody);
    const saved = await this.change(ctx, id, 'author', async (em, message) => {
      await assertNotMuted(em, message.tenantId, message.roomId, ctx.userId!);
      await em.update(Message, { tenantId: message.tenantId, id: message.id }, { body, editedAt: new Date() });
    });
    await this.announce(saved, RoomEventKind.MESSAGE_EDITED);
    return saved;
  }

  /**
   * Deletes a message: it keeps its place in the history, without its text. Its author may; so may a
   * moderator (`messages:moderate`), who must give a reason that goes to the moderation log.
   */
  async delete(ctx: RequestContext, id: string, reason?: string | null): Promise<Message> {
    const saved = await this.change(ctx, id, 'author-or-moderator', async (em, message) => {
      if (message.authorId !== ctx.userId) {
        const why = cleanText(reason ?? '');
        if (why.length < 1 || why.length > TEXT_LIMITS.reason)
          throw messagingError(
            MessagingErrorCode.INVALID_MODERATION,
            `Give a reason (1 to ${TEXT_LIMITS.reason} characters) for deleting a message of someone else`,
          );
        await logModeration(em, ctx, {
          roomId: message.roomId,
          action: 'delete_message',
          targetUserId: message.authorId,
          messageId: message.id,
          reason: why,
        });
      }
      await em.update(
        Message,
        { tenantId: message.tenantId, id: message.id },
        { body: '', deletedAt: new Date(), deletedBy: ctx.userId },
      );
    });
    await this.announce(saved, RoomEventKind.MESSAGE_DELETED);
    return saved;
  }

  private async change(
    ctx: RequestContext,
    id: string,
    who: 'author' | 'author-or-moderator',
    change: (em: EntityManager, message: Message) => Promise<unknown>,
  ): Promise<Message> {
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const message = isUuid(id)
        ? await em.findOne(Message, { where: { tenantId, id }, lock: { mode: 'pessimistic_write' } })
        : null;
      if (!message) throw messagingError(MessagingErrorCode.MESSAGE_NOT_FOUND);
      const moderator = who === 'author-or-moderator' && hasPermission(ctx, 'messages:moderate');
      if (message.authorId !== ctx.userId && !moderator) throw messagingError(MessagingErrorCode.NOT_MESSAGE_AUTHOR);
      const room = moderator
        ? await em.findOneByOrFail(Room, { tenantId, id: message.roomId })
        : await this.roomIn(em, ctx, tenantId, message.roomId);
      if (room.archivedAt) throw messagingError(MessagingErrorCode.ROOM_ARCHIVED);
      if (message.deletedAt) throw messagingError(MessagingErrorCode.MESSAGE_DELETED);
      await change(em, message);
      const saved = await em.findOneByOrFail(Message, { tenantId, id: message.id });
      return Object.assign(saved, { room });
    });
  }

  /** Refuses rooms outside the caller's tenant before a subscription starts. */
  async assertRoom(ctx: RequestContext, roomId: string): Promise<Room> {
    return withTenant(this.deps.ds, ctx, (em, tenantId) => this.roomIn(em, ctx, tenantId, roomId));
  }

  async byId(ctx: RequestContext, id: string): Promise<Message | null> {
    if (!isUuid(id)) return null;
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const message = await em.findOneBy(Message, { tenantId, id });
      if (!message) return null;
      const room = await em.findOneByOrFail(Room, { tenantId, id: message.roomId });
      return (await canUseRoom(em, ctx, room)) ? Object.assign(message, { room }) : null;
    });
  }

  /** Messages of the caller's tenant by id, in the order asked (null where not visible). */
  async byIds(ctx: RequestContext, ids: readonly string[]): Promise<(Message | null)[]> {
    const wanted = ids.filter(isUuid);
    if (wanted.length === 0) return ids.map(() => null);
    const found = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const messages = await em.findBy(Message, { tenantId, id: In(wanted) });
      const rooms = await em.findBy(Room, { tenantId, id: In([...new Set(messages.map((m) => m.roomId))]) });
      const roomById = new Map<string, Room>();
      for (const room of rooms) if (await canUseRoom(em, ctx, room)) roomById.set(room.id, room);
      return messages
        .filter((m) => roomById.has(m.roomId))
        .map((m) => Object.assign(m, { room: roomById.get(m.roomId)! }));
    });
    const byId = new Map(found.map((m) => [m.id, m]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /**
   * Room history, newest first. `after` (an endCursor) pages into older messages; `before` (a
   * startCursor) gives the messages just newer than it, for catching up towards the present.
   */
  async history(
    ctx: RequestContext,
    roomId: string,
    first: number | null | undefined,
    after: string | null | undefined,
    before: string | null | undefined = null,
    observer: { reason: string } | null = null,
  ): Promise<MessageConnection> {
    const limit = Math.max(1, Math.min(first ?? 50, PAGE_MAX));
    if (after && before) throw messagingError(MessagingErrorCode.INVALID_CURSOR, 'Give either after or before');
    const older = after ? decodeCursor(after) : null;
    const newer = before ? decodeCursor(before) : null;
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      let room: Room;
      if (observer) {
        // A platform Super Admin reading a tenant's room: any room of the tenant, and the tenant's log says so.
        const found = isUuid(roomId) ? await em.findOneBy(Room, { tenantId, id: roomId }) : null;
        if (!found) throw messagingError(MessagingErrorCode.ROOM_NOT_FOUND);
        await logModeration(em, ctx, { roomId: found.id, action: 'observe', reason: observer.reason });
        room = found;
      } else room = await this.roomIn(em, ctx, tenantId, roomId);
      // Cursors carry milliseconds (what a Date holds): order and compare at that precision.
      const at = `date_trunc('milliseconds', m.created_at)`;
      const qb = em
        .createQueryBuilder(Message, 'm')
        .where('m.tenant_id = :tenantId AND m.room_id = :roomId', { tenantId, roomId: room.id })
        .orderBy(at, newer ? 'ASC' : 'DESC')
        .addOrderBy('m.id', newer ? 'ASC' : 'DESC')
        .limit(limit + 1);
      if (older) qb.andWhere(`(${at}, m.id) < (:at::timestamptz, :id::uuid)`, older);
      if (newer) qb.andWhere(`(${at}, m.id) > (:at::timestamptz, :id::uuid)`, newer);
      const rows = await qb.getMany();
      const more = rows.length > limit;
      const page = rows.slice(0, limit).map((m) => Object.assign(m, { room }));
      if (newer) page.reverse();
      const edges = page.map((node) => ({ cursor: encodeCursor(node), node }));
      return {
        edges,
        pageInfo: {
          hasNextPage: newer ? true : more,
          endCursor: edges.at(-1)?.cursor ?? null,
          hasPreviousPage: newer ? more : older !== null,
          startCursor: edges[0]?.cursor ?? null,
        },
      };
    });
  }

  private roomIn(em: EntityManager, ctx: RequestContext, tenantId: string, roomId: string): Promise<Room> {
    return usableRoom(em, ctx, tenantId, roomId);
  }
}

/** A new message as it travels to `messageAdded` subscribers (resolved without another read). */
export type MessageEvent = MessageSnapshot;

export function toEvent(m: Message): MessageEvent {
  const { room } = m;
  return {
    tenantId: m.tenantId,
    id: m.id,
    roomId: m.roomId,
    authorId: m.authorId,
    senderName: m.senderName,
    body: m.body,
    createdAt: m.createdAt.toISOString(),
    room: {
      tenantId: room.tenantId,
      id: room.id,
      name: room.name,
      createdAt: room.createdAt.toISOString(),
      createdBy: room.createdBy,
    },
  };
}

export function fromEvent(e: MessageEvent): Message {
  const room = Object.assign(new Room(), { ...e.room, createdAt: new Date(e.room.createdAt) });
  return Object.assign(new Message(), { ...e, createdAt: new Date(e.createdAt), room });
}

function checkedBody(raw: unknown): string {
  const body = cleanText(typeof raw === 'string' ? raw : '');
  if (body.length < 1 || body.length > MESSAGE_MAX_LENGTH) throw messagingError(MessagingErrorCode.INVALID_MESSAGE);
  return body;
}

function encodeCursor(m: Message): string {
  return Buffer.from(JSON.stringify([m.createdAt.toISOString(), m.id])).toString('base64url');
}

function decodeCursor(cursor: string): { at: string; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    if (typeof at !== 'string' || Number.isNaN(Date.parse(at)) || !isUuid(id)) throw new Error('bad cursor');
    return { at, id };
  } catch {
    throw messagingError(MessagingErrorCode.INVALID_CURSOR);
  }
}
