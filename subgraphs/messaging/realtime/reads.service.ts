import type { EntityManager } from 'typeorm';
import type { EventOf } from '../../../kernel/contracts/events';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { isUuid, returningRows } from '../../../kernel/db/values';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { Message } from '../messages/message.entity';
import { MessagingErrorCode, messagingError } from '../messaging.errors';
import { Room } from '../rooms/room.entity';
import { RoomService, isTeam, usableRoom, visibleRoom } from '../rooms/room.service';
import { RoomEventKind, publishRoomEvent } from './room-events';
import { ReadReceipt, UnreadCount } from './realtime.types';
import { ReadReceiptPolicy } from '../rooms/read-receipt-policy';

const COUNT_CAP = 1000;

/** The room's own policy, else the tenant's (kept from tenancy's settings), else public. */
export async function receiptPolicy(em: EntityManager, room: Room): Promise<ReadReceiptPolicy> {
  if (room.readReceipts) return room.readReceipts;
  const [row]: { read_receipts: ReadReceiptPolicy }[] = await em.query(
    `SELECT read_receipts FROM messaging.tenant_settings WHERE tenant_id = $1`,
    [room.tenantId],
  );
  return row?.read_receipts ?? ReadReceiptPolicy.PUBLIC;
}

/**
 * Read pointers: one per person and room, only ever moving forward. Unread counts are derived from them
 * (others' messages after the pointer, deleted ones not counted), so they are right after any reconnect.
 */
export class ReadService {
  constructor(private readonly deps: SubgraphDeps) {}

  async markRead(ctx: RequestContext, roomId: string, messageId: string): Promise<UnreadCount> {
    const { room, policy, moved } = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const room = await usableRoom(em, ctx, tenantId, roomId);
      const message = isUuid(messageId) ? await em.findOneBy(Message, { tenantId, id: messageId }) : null;
      if (!message || message.roomId !== room.id)
        throw messagingError(MessagingErrorCode.MESSAGE_NOT_FOUND, 'That message is not in this room');
      const moved = returningRows<{ user_id: string }>(
        await em.query(
          // The message's own timestamp at full precision (a JavaScript Date would cut it to milliseconds).
          `INSERT INTO messaging.room_reads (tenant_id, room_id, user_id, message_id, message_at)
           SELECT $1, $2, $3, m.id, m.created_at FROM messaging.messages m WHERE m.tenant_id = $1 AND m.id = $4
           ON CONFLICT (tenant_id, room_id, user_id) DO UPDATE SET message_id = EXCLUDED.message_id, message_at = EXCLUDED.message_at, read_at = now()
           WHERE messaging.room_reads.message_at < EXCLUDED.message_at
           RETURNING user_id`,
          [tenantId, room.id, ctx.userId, message.id],
        ),
      );
      return { room, policy: await receiptPolicy(em, room), moved: moved.length > 0 };
    });
    if (moved) {
      await publishRoomEvent(
        this.deps,
        { tenantId: room.tenantId, roomId: room.id, kind: RoomEventKind.READ, messageId, userId: ctx.userId },
        { toRoom: policy === ReadReceiptPolicy.PUBLIC },
      );
    }
    return (await this.unreadCount(ctx, room.id))!;
  }

  /** The caller's count for one room; null for a room they cannot use. */
  async unreadCount(ctx: RequestContext, roomId: string): Promise<UnreadCount | null> {
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const room = await visibleRoom(em, ctx, tenantId, roomId);
      if (!room) return null;
      const [count] = await this.counts(em, tenantId, ctx.userId!, [room]);
      return count;
    });
  }

  /** Every room the caller can use, with their unread count. */
  async unreadCounts(ctx: RequestContext): Promise<UnreadCount[]> {
    const rooms = await new RoomService(this.deps).list(ctx);
    if (rooms.length === 0) return [];
    return withTenant(this.deps.ds, ctx, (em, tenantId) => this.counts(em, tenantId, ctx.userId!, rooms));
  }

  private async counts(em: EntityManager, tenantId: string, userId: string, rooms: Room[]): Promise<UnreadCount[]> {
    const rows: { room_id: string; message_id: string | null; count: string }[] = await em.query(
      `SELECT r.room_id, rr.message_id,
              (SELECT count(*) FROM (SELECT 1 FROM messaging.messages m
                 WHERE m.tenant_id = $1 AND m.room_id = r.room_id AND m.deleted_at IS NULL AND m.author_id IS DISTINCT FROM $2
                   AND (rr.message_at IS NULL OR m.created_at > rr.message_at)
                 LIMIT ${COUNT_CAP}) capped) AS count
         FROM unnest($3::uuid[]) AS r(room_id)
         LEFT JOIN messaging.room_reads rr ON rr.tenant_id = $1 AND rr.room_id = r.room_id AND rr.user_id = $2`,
      [tenantId, userId, rooms.map((r) => r.id)],
    );
    const byId = new Map(rows.map((r) => [r.room_id, r]));
    return rooms.map((room) => {
      const row = byId.get(room.id);
      return Object.assign(new UnreadCount(), {
        id: room.id,
        roomId: room.id,
        room,
        count: Number(row?.count ?? 0),
        lastReadMessageId: row?.message_id ?? null,
      });
    });
  }

  /** Read pointers of a room: everyone's where receipts are public, otherwise the caller's own. */
  async receipts(ctx: RequestContext, roomId: string): Promise<ReadReceipt[]> {
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const room = await usableRoom(em, ctx, tenantId, roomId);
      const everyone = (await receiptPolicy(em, room)) === ReadReceiptPolicy.PUBLIC;
      const rows: { user_id: string; message_id: string; read_at: Date }[] = await em.query(
        `SELECT user_id, message_id, read_at FROM messaging.room_reads WHERE tenant_id = $1 AND room_id = $2 AND ($3 OR user_id = $4) ORDER BY read_at DESC`,
        [tenantId, room.id, everyone, ctx.userId],
      );
      return rows.map((r) =>
        Object.assign(new ReadReceipt(), { userId: r.user_id, messageId: r.message_id, readAt: r.read_at }),
      );
    });
  }

  /** Whether a reader's pointer may be shown to the caller (their own, or the room's receipts are public). */
  async receiptVisible(em: EntityManager, ctx: RequestContext, room: Room, readerId: string | null): Promise<boolean> {
    return readerId === ctx.userId || (await receiptPolicy(em, room)) === ReadReceiptPolicy.PUBLIC;
  }

  /** A room's own receipt policy (null: the tenant's); by its owner or admins, or a tenant admin. */
  async setRoomPolicy(ctx: RequestContext, roomId: string, policy: ReadReceiptPolicy | null): Promise<Room> {
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const room = await usableRoom(em, ctx, tenantId, roomId);
      if (!isTeam(ctx)) {
        const [row]: { role: string }[] = await em.query(
          `SELECT role FROM messaging.room_members WHERE tenant_id = $1 AND room_id = $2 AND user_id = $3`,
          [tenantId, room.id, ctx.userId],
        );
        if (!row || (row.role !== 'owner' && row.role !== 'admin'))
          throw messagingError(MessagingErrorCode.NOT_ROOM_ADMIN);
      }
      await em.update(Room, { tenantId, id: room.id }, { readReceipts: policy });
      return em.findOneByOrFail(Room, { tenantId, id: room.id });
    });
  }
}

/** Consumer of tenancy.settings_changed: the tenant's read-receipt policy. */
export async function tenantSettingsChanged(
  event: EventOf<'tenancy.settings_changed'>,
  em: EntityManager,
): Promise<void> {
  const p = event.payload;
  await em.query(
    `INSERT INTO messaging.tenant_settings (tenant_id, read_receipts) VALUES ($1, $2) ON CONFLICT (tenant_id) DO UPDATE SET read_receipts = EXCLUDED.read_receipts`,
    [p.tenantId, p.readReceipts],
  );
}
