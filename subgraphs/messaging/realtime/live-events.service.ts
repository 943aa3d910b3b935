import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { isUuid } from '../../../kernel/db/values';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { Message } from '../messages/message.entity';
import { MessagingErrorCode, messagingError } from '../messaging.errors';
import { assertNotMuted } from '../moderation/sanctions';
import { usableRoom, visibleRoom } from '../rooms/room.service';
import { ReadService } from './reads.service';
import { TypingEvent } from './realtime.types';
import { RoomEvent, RoomEventKind, decodeEventId, publishTyping, type TypingPayload } from './room-events';

export function encodeTypingId(p: Omit<TypingPayload, 'tenantId'>): string {
  return Buffer.from(JSON.stringify([p.roomId, p.userId, p.typing, p.expiresAt])).toString('base64url');
}

function decodeTypingId(id: string): Omit<TypingPayload, 'tenantId'> | null {
  try {
    const [roomId, userId, typing, expiresAt] = JSON.parse(Buffer.from(id, 'base64url').toString('utf8')) as unknown[];
    if (!isUuid(roomId) || !isUuid(userId) || typeof typing !== 'boolean' || typeof expiresAt !== 'number') return null;
    return { roomId, userId, typing, expiresAt };
  } catch {
    return null;
  }
}

/**
 * Ephemeral room events: typing, and the lookups that resolve a delivered event id for a viewer
 * (re-checking that they may see it; null when not).
 */
export class LiveEventService {
  private readonly reads: ReadService;
  constructor(private readonly deps: SubgraphDeps) {
    this.reads = new ReadService(deps);
  }

  roomEvent(ctx: RequestContext, id: string): Promise<RoomEvent | null> {
    const e = decodeEventId(id);
    if (!e) return Promise.resolve(null);
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const room = await visibleRoom(em, ctx, tenantId, e.roomId);
      if (!room) return null;
      if (e.kind === RoomEventKind.READ && !(await this.reads.receiptVisible(em, ctx, room, e.userId))) return null;
      const message = await em.findOneBy(Message, { tenantId, id: e.messageId, roomId: room.id });
      if (!message) return null;
      return Object.assign(new RoomEvent(), {
        id,
        kind: e.kind,
        roomId: room.id,
        at: new Date(e.at),
        message: Object.assign(message, { room }),
        userId: e.kind === RoomEventKind.READ ? e.userId : null,
      });
    });
  }

  /** Says the caller is typing (renew within TYPING_TTL_SECONDS) or stopped; not in archived rooms, not while muted. */
  async setTyping(ctx: RequestContext, roomId: string, typing: boolean): Promise<boolean> {
    const room = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const room = await usableRoom(em, ctx, tenantId, roomId);
      if (room.archivedAt) throw messagingError(MessagingErrorCode.ROOM_ARCHIVED);
      await assertNotMuted(em, tenantId, room.id, ctx.userId!);
      return room;
    });
    await publishTyping(this.deps, {
      tenantId: room.tenantId,
      roomId: room.id,
      userId: ctx.userId!,
      typing,
      expiresAt: typing ? Date.now() + this.deps.config.realtime.TYPING_TTL_SECONDS * 1000 : Date.now(),
    });
    return true;
  }

  async typingEvent(ctx: RequestContext, id: string): Promise<TypingEvent | null> {
    const p = decodeTypingId(id);
    if (!p) return null;
    const visible = await withTenant(
      this.deps.ds,
      ctx,
      async (em, tenantId) => (await visibleRoom(em, ctx, tenantId, p.roomId)) !== null,
    );
    return visible
      ? Object.assign(new TypingEvent(), {
          id,
          ...p,
          typing: p.typing && p.expiresAt > Date.now(),
          expiresAt: new Date(p.expiresAt),
        })
      : null;
  }
}
