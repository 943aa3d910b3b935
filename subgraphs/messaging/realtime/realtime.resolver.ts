import { Arg, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { ReadReceiptPolicy } from '../rooms/read-receipt-policy';
import { Room } from '../rooms/room.entity';
import { PresenceService, type PresenceChanged } from './presence.service';
import { ReadService } from './reads.service';
import { LiveEventService } from './live-events.service';
import { RealtimeSubscriptionService } from './realtime-subscriptions.service';
import { Presence, ReadReceipt, SetPresenceInput, TypingEvent, UnreadCount } from './realtime.types';
import { RoomEvent, type RoomEventPayload, type TypingPayload } from './room-events';

type SubscribeArgs<A> = { args: A; context: { deps: SubgraphDeps } };

/** Subscribe functions get the subgraph's dependencies from the context (they run outside any resolver instance). */
const subscriptions = ({ context }: SubscribeArgs<unknown>) => new RealtimeSubscriptionService(context.deps);

/**
 * Live chat: room events (messages added, edited, deleted; public read receipts), typing, read pointers
 * and unread counts, presence. Each subscription yields an id; its lookup query (`roomEvent`,
 * `typingEvent`, `unreadCount`, `presence`) resolves it for the viewer, re-checking access.
 */
@Resolver()
export class RealtimeResolver {
  private readonly reads: ReadService;
  private readonly presenceService: PresenceService;
  private readonly live: LiveEventService;
  private readonly subscriptions: RealtimeSubscriptionService;
  constructor(deps: SubgraphDeps) {
    this.subscriptions = new RealtimeSubscriptionService(deps);
    this.live = new LiveEventService(deps);
    this.reads = new ReadService(deps);
    this.presenceService = new PresenceService(deps);
  }

  @Authorized('messages:read')
  @Subscription(() => RoomEvent, {
    subscribe: (s: SubscribeArgs<{ roomId: string }>) => subscriptions(s).roomEvents(currentContext(), s.args.roomId),
    description: 'Messages added, edited and deleted in a room, and read receipts where they are public',
  })
  roomEvents(@Root() e: RoomEventPayload, @Arg('roomId', () => ID) _roomId: string): RoomEvent {
    return this.subscriptions.asRoomEvent(currentContext(), e);
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
    subscribe: (s: SubscribeArgs<{ roomId: string }>) => subscriptions(s).typing(currentContext(), s.args.roomId),
    description: 'Who starts and stops typing in a room (an indicator ends by itself at expiresAt)',
  })
  typing(@Root() p: TypingPayload, @Arg('roomId', () => ID) _roomId: string): TypingEvent {
    return this.subscriptions.asTypingEvent(p);
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
    subscribe: (s: SubscribeArgs<object>) => subscriptions(s).unreadCounts(currentContext()),
    description: 'Your unread count of a room, each time it may have changed (a message there, a deletion, your reads)',
  })
  unreadCountChanged(@Root() e: RoomEventPayload): UnreadCount {
    return this.subscriptions.asUnreadCount(currentContext(), e);
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
    subscribe: (s: SubscribeArgs<object>) => subscriptions(s).presence(currentContext()),
    description: "Changes of presence in the tenant (each person's, over all their devices)",
  })
  presenceChanged(@Root() p: PresenceChanged): Presence {
    return this.subscriptions.asPresence(currentContext(), p);
  }
}
