import { randomUUID } from 'node:crypto';
import { In, type EntityManager } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { MessagingErrorCode, messagingError } from '../messaging.errors';
import { Room } from '../rooms/room.entity';
import { cleanText } from '../rooms/room.service';
import { Message } from './message.entity';
import { MESSAGE_MAX_LENGTH, type MessageConnection, type SendMessageInput } from './message.types';
import { isUuid } from '../../../kernel/db/values';

const PAGE_MAX = 100;

export class MessageService {
  constructor(private readonly deps: SubgraphDeps) {}

  async send(ctx: RequestContext, input: SendMessageInput): Promise<Message> {
    const body = cleanText(input.body ?? '');
    if (body.length < 1 || body.length > MESSAGE_MAX_LENGTH) throw messagingError(MessagingErrorCode.INVALID_MESSAGE);
    const message = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const room = await this.roomIn(em, tenantId, input.roomId);
      const created = em.create(Message, { tenantId, id: randomUUID(), roomId: room.id, authorId: ctx.userId!, body });
      await em.insert(Message, created);
      const saved = await em.findOneByOrFail(Message, { tenantId, id: created.id });
      return Object.assign(saved, { room });
    });
    // Realtime is best effort once committed: a subscriber that misses it reads it from history.
    await this.deps.pubsub.publish(roomTopic(message.tenantId, message.roomId), toEvent(message)).catch(() => undefined);
    return message;
  }

  /** Refuses rooms outside the caller's tenant before a subscription starts. */
  async assertRoom(ctx: RequestContext, roomId: string): Promise<Room> {
    return withTenant(this.deps.ds, ctx, (em, tenantId) => this.roomIn(em, tenantId, roomId));
  }

  async byId(ctx: RequestContext, id: string): Promise<Message | null> {
    if (!isUuid(id)) return null;
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const message = await em.findOneBy(Message, { tenantId, id });
      if (!message) return null;
      return Object.assign(message, { room: await em.findOneByOrFail(Room, { tenantId, id: message.roomId }) });
    });
  }

  /** Messages of the caller's tenant by id, in the order asked (null where not visible). */
  async byIds(ctx: RequestContext, ids: readonly string[]): Promise<(Message | null)[]> {
    const wanted = ids.filter(isUuid);
    if (wanted.length === 0) return ids.map(() => null);
    const found = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const messages = await em.findBy(Message, { tenantId, id: In(wanted) });
      const rooms = await em.findBy(Room, { tenantId, id: In([...new Set(messages.map((m) => m.roomId))]) });
      const roomById = new Map(rooms.map((r) => [r.id, r]));
      return messages.map((m) => Object.assign(m, { room: roomById.get(m.roomId)! }));
    });
    const byId = new Map(found.map((m) => [m.id, m]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  async history(ctx: RequestContext, roomId: string, first: number | null | undefined, after: string | null | undefined): Promise<MessageConnection> {
    const limit = Math.max(1, Math.min(first ?? 50, PAGE_MAX));
    const cursor = after ? decodeCursor(after) : null;
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const room = await this.roomIn(em, tenantId, roomId);
      const qb = em
        .createQueryBuilder(Message, 'm')
        .where('m.tenant_id = :tenantId AND m.room_id = :roomId', { tenantId, roomId: room.id })
        .orderBy('m.created_at', 'DESC')
        .addOrderBy('m.id', 'DESC')
        .limit(limit + 1);
      if (cursor) qb.andWhere('(m.created_at, m.id) < (:at::timestamptz, :id::uuid)', cursor);
      const rows = await qb.getMany();
      const page = rows.slice(0, limit).map((m) => Object.assign(m, { room }));
      const edges = page.map((node) => ({ cursor: encodeCursor(node), node }));
      return { edges, pageInfo: { hasNextPage: rows.length > limit, endCursor: edges.at(-1)?.cursor ?? null } };
    });
  }

  private async roomIn(em: EntityManager, tenantId: string, roomId: string): Promise<Room> {
    const room = isUuid(roomId) ? await em.findOneBy(Room, { tenantId, id: roomId }) : null;
    if (!room) throw messagingError(MessagingErrorCode.ROOM_NOT_FOUND);
    return room;
  }
}

/** Topic of a room's events; the tenant is part of it, so one tenant's subscribers never see another's. */
export function roomTopic(tenantId: string, roomId: string): string {
  return `messaging.room.${tenantId}.${roomId}`;
}

export interface MessageEvent {
  tenantId: string;
  id: string;
  roomId: string;
  authorId: string;
  body: string;
  createdAt: string;
  room: { tenantId: string; id: string; name: string; createdAt: string; createdBy: string };
}

function toEvent(m: Message): MessageEvent {
  const { room } = m;
  return {
    tenantId: m.tenantId,
    id: m.id,
    roomId: m.roomId,
    authorId: m.authorId,
    body: m.body,
    createdAt: m.createdAt.toISOString(),
    room: { tenantId: room.tenantId, id: room.id, name: room.name, createdAt: room.createdAt.toISOString(), createdBy: room.createdBy },
  };
}

export function fromEvent(e: MessageEvent): Message {
  const room = Object.assign(new Room(), { ...e.room, createdAt: new Date(e.room.createdAt) });
  return Object.assign(new Message(), { ...e, createdAt: new Date(e.createdAt), room });
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
