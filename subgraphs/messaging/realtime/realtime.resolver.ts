import { Arg, Authorized, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { hasPermission, isAuthenticated } from '../../../kernel/auth';
import { currentContext, type RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { forbidden, unauthenticated } from '../../../kernel/errors';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import type { RoomTopic, TopicMessage, TypingTopic } from '../../../kernel/contracts/topics';
import { declareAudience } from '../../../kernel/subscription-audience';
import { MessageService } from '../messages/message.service';
import { ReadReceiptPolicy } from '../rooms/read-receipt-policy';
import { Room } from '../rooms/room.entity';
import { usableRoom, visibleRoom } from '../rooms/room.service';
import { PresenceService, presenceTopic, type PresenceChanged } from './presence.service';
import { ReadService } from './reads.service';
import { LiveEventService, encodeTypingId } from './live-events.service';
import { Presence, PresenceStatus, ReadReceipt, SetPresenceInput, TypingEvent, UnreadCount } from './realtime.types';
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

type SubscribeArgs<A> = { args: A; context: { deps: SubgraphDeps } };

function subscriber(permission: string): RequestContext {
  const ctx = currentContext();
  if (!isAuthenticated(ctx) || !ctx.tenantId || !ctx.userId) throw unauthenticated();
  if (!hasPermission(ctx, permission)) throw forbidden(`Missing permission: ${permission}`);
  return ctx;
}

/** A room's events for those who may use the room (checked now; a later loss of access is re-checked by the gateway). */
async function roomSubscription<T extends RoomTopic | TypingTopic>(
  deps: SubgraphDeps,
  roomId: string,
  topic: (tenantId: string, roomId: string) => T,
  keep?: (e: TopicMessage<T>) => boolean,
) {
  const ctx = subscriber('messages:read');
  const room = await withTenant(deps.ds, ctx, (em, tenantId) => usableRoom(em, ctx, tenantId, roomId));
  declareAudience(`room:${room.id}`);
  return ofTenant(deps.pubsub.iterate(topic(ctx.tenantId!, room.id)), ctx.tenantId!, keep);
}

/**
 * Live chat: room events (messages added, edited, deleted; public read receipts), typing, read pointers
 * and unread counts, presence. Each subscription yields an id; its lookup query (`roomEvent`,
 * `typingEvent`, `unreadCount`, `presence`) resolves it for the viewer, re-checking access.
 */
@Resolver()
export class RealtimeResolver {
  private readonly reads: ReadService;
  private readonly presenceService: PresenceService;
  private readonly messages: MessageService;
  private readonly live: LiveEventService;
  constructor(deps: SubgraphDeps) {
    this.messages = new MessageService(deps);
    this.live = new LiveEventService(deps);
    this.reads = new ReadService(deps);
    this.presenceService = new PresenceService(deps);
  }

  @Authorized('messages:read')
  @Subscription(() => RoomEvent, {
    subscribe: ({ args, context }: SubscribeArgs<{ roomId: string }>) =>
      roomSubscription(context.deps, args.roomId, roomTopic),
    description: 'Messages added, edited and deleted in a room, and read receipts where they are public',
  })
  roomEvents(@Root() e: RoomEventPayload, @Arg('roomId', () => ID) _roomId: string): RoomEvent {
    const ctx = currentContext();
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

  @Authorized('messages:read')
  @Query(() => RoomEvent, {
    nullable: true,
    description: 'A room event by its id (as roomEvents delivers it); null if you may not see it',
  })
  roomEvent(@Arg('id', () => ID) id: string): Promise<RoomEvent | null> {
    return this.live.roomEvent(currentContext(), id);
  }

  @Authorized('messages:send')
  @Mutation(() => Boolean, {
    description: 'Says you are typing in a room (renew within TYPING_TTL_SECONDS), or that you stopped (typing: false)',
  })
  setTyping(
    @Arg('roomId', () => ID) roomId: string,
    @Arg('typing', () => Boolean, { defaultValue: true }) typing: boolean,
  ): Promise<boolean> {
    return this.live.setTyping(currentContext(), roomId, typing);
  }

  @Authorized('messages:read')
  @Subscription(() => TypingEvent, {
    subscribe: ({ args, context }: SubscribeArgs<{ roomId: string }>) =>
      roomSubscription(context.deps, args.roomId, typingTopic),
    description: 'Who starts and stops typing in a room (an indicator ends by itself at expiresAt)',
  })
  typing(@Root() p: TypingPayload, @Arg('roomId', () => ID) _roomId: string): TypingEvent {
    return Object.assign(new TypingEvent(), {
      id: encodeTypingId(p),
      roomId: p.roomId,
      userId: p.userId,
      typing: p.typing,
      expiresAt: new Date(p.expiresAt),
    });
  }

  @Authorized('messages:read')
  @Query(() => TypingEvent, {
    nullable: true,
    description: 'A typing event by its id (as typing delivers it); null if you may not see it',
  })
  typingEvent(@Arg('id', () => ID) id: string): Promise<TypingEvent | null> {
    return this.live.typingEvent(currentContext(), id);
  }

  @Authorized('messages:read')
  @Mutation(() => UnreadCount, {
    description: 'Moves your read pointer in a room up to this message (never backwards)',
  })
  markRead(
    @Arg('roomId', () => ID) roomId: string,
    @Arg('messageId', () => ID) messageId: string,
  ): Promise<UnreadCount> {
    return this.reads.markRead(currentContext(), roomId, messageId);
  }

  @Authorized('messages:read')
  @Query(() => [UnreadCount], { description: 'Your unread count in every room you can use' })
  unreadCounts(): Promise<UnreadCount[]> {
    return this.reads.unreadCounts(currentContext());
  }

  @Authorized('messages:read')
  @Query(() => UnreadCount, {
    nullable: true,
    description: 'Your unread count in one room (by room id); null for a room you cannot use',
  })
  unreadCount(@Arg('id', () => ID) id: string): Promise<UnreadCount | null> {
    return this.reads.unreadCount(currentContext(), id);
  }

  @Authorized('messages:read')
  @Subscription(() => UnreadCount, {
    name: 'unreadCounts',
    subscribe: ({ context }: SubscribeArgs<object>) => {
      const ctx = subscriber('messages:read');
      // Yours alone (the default audience): your own messages do not count, your reads do; rooms you
      // cannot use are never mentioned.
      const events = ofTenant(context.deps.pubsub.iterate(tenantRoomsTopic(ctx.tenantId!)), ctx.tenantId!, (e) =>
        e.kind === RoomEventKind.READ ? e.userId === ctx.userId : e.userId !== ctx.userId,
      );
      return usableRoomsOnly(context.deps, ctx, events);
    },
    description: 'Your unread count of a room, each time it may have changed (a message there, a deletion, your reads)',
  })
  unreadCountChanged(@Root() e: RoomEventPayload): UnreadCount {
    // Through the gateway only the id travels; other fields are read only when selected here directly.
    const ctx = currentContext();
    return lazyFields(
      Object.assign(new UnreadCount(), { id: e.roomId, roomId: e.roomId }),
      () => this.reads.unreadCount(ctx, e.roomId),
      ['room', 'count', 'lastReadMessageId'],
    );
  }

  @Authorized('messages:read')
  @Query(() => [ReadReceipt], {
    description: "A room's read pointers: everyone's where receipts are public, else your own",
  })
  readReceipts(@Arg('roomId', () => ID) roomId: string): Promise<ReadReceipt[]> {
    return this.reads.receipts(currentContext(), roomId);
  }

  @Authorized('rooms:read')
  @Mutation(() => Room, {
    description: "Sets a room's read-receipt policy (null: the tenant's); its owner or admins, or a tenant admin",
  })
  setRoomReadReceipts(
    @Arg('roomId', () => ID) roomId: string,
    @Arg('policy', () => ReadReceiptPolicy, { nullable: true }) policy: ReadReceiptPolicy | null,
  ): Promise<Room> {
    return this.reads.setRoomPolicy(currentContext(), roomId, policy ?? null);
  }

  @Authorized('messages:read')
  @Mutation(() => Presence, {
    description: 'Reports this device as online or away (and its page), renewing it; OFFLINE ends it',
  })
  setPresence(@Arg('input', () => SetPresenceInput) input: SetPresenceInput): Promise<Presence> {
    return this.presenceService.set(currentContext(), input);
  }

  @Authorized('messages:read')
  @Query(() => [Presence], { description: 'Everyone of the tenant online or away now' })
  presences(): Promise<Presence[]> {
    return this.presenceService.list(currentContext());
  }

  @Authorized('messages:read')
  @Query(() => Presence, {
    name: 'presence',
    nullable: true,
    description: "Someone's presence (by user id); null for someone outside the tenant",
  })
  presenceOf(@Arg('id', () => ID) id: string): Promise<Presence | null> {
    return this.presenceService.byUser(currentContext(), id);
  }

  @Authorized('messages:read')
  @Subscription(() => Presence, {
    name: 'presence',
    subscribe: ({ context }: SubscribeArgs<object>) => {
      const ctx = subscriber('messages:read');
      declareAudience('tenant');
      return ofTenant(context.deps.pubsub.iterate(presenceTopic(ctx.tenantId!)), ctx.tenantId!);
    },
    description: "Changes of presence in the tenant (each person's, over all their devices)",
  })
  presenceChanged(@Root() p: PresenceChanged): Presence {
    const ctx = currentContext();
    const offline = () =>
      Object.assign(new Presence(), { status: PresenceStatus.OFFLINE, page: null, devices: 0, lastSeenAt: null });
    return lazyFields(
      Object.assign(new Presence(), { id: p.userId, userId: p.userId }),
      async () => (await this.presenceService.byUser(ctx, p.userId)) ?? offline(),
      ['status', 'page', 'devices', 'lastSeenAt'],
    );
  }
}
