import type { Permission } from '../../../kernel/contracts/permissions';
import type { RoomTopic, TopicMessage, TypingTopic } from '../../../kernel/contracts/topics';
import { isAuthenticated, requirePermissions } from '../../../kernel/auth';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { unauthenticated } from '../../../kernel/errors';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { declareAudience } from '../../../kernel/subscription-audience';
import { MessageService } from '../messages/message.service';
import { usableRoom, visibleRoom } from '../rooms/room.service';
import { PresenceService, presenceTopic, type PresenceChanged } from './presence.service';
import { ReadService } from './reads.service';
import { encodeTypingId } from './live-events.service';
import { Presence, PresenceStatus, TypingEvent, UnreadCount } from './realtime.types';
import {
  RoomEvent,
  RoomEventKind,
  encodeEventId,
  ofTenant,
  roomTopic,
  tenantRoomsTopic,
  typingTopic,
  type RoomEventPayload,
  type TypingPayload,
} from './room-events';

/** Fields read (once, on first use) from the current state. */
function lazyFields<T extends object>(target: T, load: () => Promise<T | null>, fields: (keyof T)[]): T {
  let loaded: Promise<T | null> | null = null;
  for (const field of fields) {
    Object.defineProperty(target, field, {
      get: () => (loaded ??= load()).then((v) => (v ? v[field] : null)),
      enumerable: true,
    });
  }
  return target;
}

const ACCESS_CACHE_MS = 30_000;

/** Events of rooms the caller may use (each room checked once per half minute, per subscription). */
async function* usableRoomsOnly(deps: SubgraphDeps, ctx: RequestContext, events: AsyncGenerator<RoomEventPayload>) {
  const known = new Map<string, { usable: boolean; at: number }>();
  try {
    for await (const e of events) {
      let entry = known.get(e.roomId);
      if (!entry || Date.now() - entry.at > ACCESS_CACHE_MS) {
        const usable = await withTenant(
          deps.ds,
          ctx,
          async (em, tenantId) => (await visibleRoom(em, ctx, tenantId, e.roomId)) !== null,
        );
        entry = { usable, at: Date.now() };
        if (known.size > 10_000) known.clear();
        known.set(e.roomId, entry);
      }
      if (entry.usable) yield e;
    }
  } finally {
    await events.return(undefined);
  }
}

/**
 * A signed-in member of a tenant with the permission; refused as the auth checker refuses (a restriction's code,
 * such as EMAIL_VERIFICATION_REQUIRED, when the permission is missing because of it).
 */
function subscriber(ctx: RequestContext, permission: Permission): RequestContext {
  if (!isAuthenticated(ctx) || !ctx.tenantId || !ctx.userId) throw unauthenticated();
  requirePermissions(ctx, [permission]);
  return ctx;
}

/**
 * Live chat subscriptions: who may subscribe (checked when subscribing; a later loss of access is re-checked by the
 * gateway), the events each one yields, and each event as delivered (its other fields read only when selected).
 */
export class RealtimeSubscriptionService {
  private readonly messages: MessageService;
  private readonly reads: ReadService;
  private readonly presences: PresenceService;
  constructor(private readonly deps: SubgraphDeps) {
    this.messages = new MessageService(deps);
    this.reads = new ReadService(deps);
    this.presences = new PresenceService(deps);
  }

  /** Messages added, edited and deleted in a room, and read receipts. */
  roomEvents(ctx: RequestContext, roomId: string) {
    return this.roomSubscription(ctx, roomId, roomTopic);
  }

  /** Who starts and stops typing in a room. */
  typing(ctx: RequestContext, roomId: string) {
    return this.roomSubscription(ctx, roomId, typingTopic);
  }

  /** The caller's rooms whose unread count may have changed. */
  unreadCounts(context: RequestContext) {
    const ctx = subscriber(context, 'messages:read');
    // Yours alone (the default audience): your own messages do not count, your reads do; rooms you
    // cannot use are never mentioned.
    const events = ofTenant(this.deps.pubsub.iterate(tenantRoomsTopic(ctx.tenantId!)), ctx.tenantId!, (e) =>
      e.kind === RoomEventKind.READ ? e.userId === ctx.userId : e.userId !== ctx.userId,
    );
    return usableRoomsOnly(this.deps, ctx, events);
  }

  /** Changes of presence in the tenant. */
  presence(context: RequestContext) {
    const ctx = subscriber(context, 'messages:read');
    declareAudience('tenant');
    return ofTenant(this.deps.pubsub.iterate(presenceTopic(ctx.tenantId!)), ctx.tenantId!);
  }

  /** A room event as delivered; the message as it is now, read only when selected. */
  asRoomEvent(ctx: RequestContext, e: RoomEventPayload): RoomEvent {
    const event = Object.assign(new RoomEvent(), {
      id: encodeEventId(e),
      kind: e.kind,
      roomId: e.roomId,
      at: new Date(e.at),
      userId: e.kind === RoomEventKind.READ ? e.userId : null,
    });
    // The message as it is now, read only when selected.
    return lazyFields(
      event,
      () => this.messages.byId(ctx, e.messageId).then((message) => Object.assign(new RoomEvent(), { message })),
      ['message'],
    );
  }

  /** A typing event as delivered. */
  asTypingEvent(p: TypingPayload): TypingEvent {
    return Object.assign(new TypingEvent(), {
      id: encodeTypingId(p),
      roomId: p.roomId,
      userId: p.userId,
      typing: p.typing,
      expiresAt: new Date(p.expiresAt),
    });
  }

  /** A room's unread count as delivered; count and pointer read only when selected. */
  asUnreadCount(ctx: RequestContext, e: RoomEventPayload): UnreadCount {
    // Through the gateway only the id travels; other fields are read only when selected here directly.
    return lazyFields(
      Object.assign(new UnreadCount(), { id: e.roomId, roomId: e.roomId }),
      () => this.reads.unreadCount(ctx, e.roomId),
      ['room', 'count', 'lastReadMessageId'],
    );
  }

  /** Someone's presence as delivered; its state read only when selected (offline when none). */
  asPresence(ctx: RequestContext, p: PresenceChanged): Presence {
    const offline = () =>
      Object.assign(new Presence(), { status: PresenceStatus.OFFLINE, page: null, devices: 0, lastSeenAt: null });
    return lazyFields(
      Object.assign(new Presence(), { id: p.userId, userId: p.userId }),
      async () => (await this.presences.byUser(ctx, p.userId)) ?? offline(),
      ['status', 'page', 'devices', 'lastSeenAt'],
    );
  }

  /** A room's events for those who may use the room (checked now; a later loss of access is re-checked by the gateway). */
  private async roomSubscription<T extends RoomTopic | TypingTopic>(
    context: RequestContext,
    roomId: string,
    topic: (tenantId: string, roomId: string) => T,
    keep?: (e: TopicMessage<T>) => boolean,
  ) {
    const ctx = subscriber(context, 'messages:read');
    const room = await withTenant(this.deps.ds, ctx, (em, tenantId) => usableRoom(em, ctx, tenantId, roomId));
    declareAudience(`room:${room.id}`);
    return ofTenant(this.deps.pubsub.iterate(topic(ctx.tenantId!, room.id)), ctx.tenantId!, keep);
  }
}
