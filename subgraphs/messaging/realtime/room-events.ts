import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { isUuid } from '../../../kernel/db/values';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { Message } from '../messages/message.entity';
import type { MessageEvent } from '../messages/message.service';
import { UserReference } from '../user.reference';

export enum RoomEventKind {
  MESSAGE_ADDED = 'message_added',
  MESSAGE_EDITED = 'message_edited',
  MESSAGE_DELETED = 'message_deleted',
  /** Someone's read pointer moved (rooms whose read receipts are public). */
  READ = 'read',
}
registerEnumType(RoomEventKind, { name: 'RoomEventKind' });

/** What happened in a room, as subscribers of `roomEvents` get it; `id` names the event and is all it needs to be looked up. */
@ObjectType('RoomEvent')
export class RoomEvent {
  @Field(() => ID)
  id: string;

  @Field(() => RoomEventKind)
  kind: RoomEventKind;

  @Field(() => ID)
  roomId: string;

  @Field(() => Date)
  at: Date;

  @Field(() => Message, {
    nullable: true,
    description: 'The message concerned, as it is now (for READ: the one read up to)',
  })
  message: Message | null;

  @Field(() => ID, { nullable: true, description: 'For READ: who read' })
  userId: string | null;

  @Field(() => UserReference, { nullable: true, description: 'For READ: who read' })
  user(): UserReference | null {
    return this.userId ? { id: this.userId } : null;
  }
}

/** What travels on a room's topic (and the tenant's). */
export interface RoomEventPayload {
  tenantId: string;
  roomId: string;
  kind: RoomEventKind;
  messageId: string;
  /** The author of an added message, the reader of a READ. */
  userId: string | null;
  at: number;
  /** MESSAGE_ADDED: the message itself, for `messageAdded`. */
  snapshot?: MessageEvent;
}

const KINDS = Object.values(RoomEventKind);

export function encodeEventId(e: Pick<RoomEventPayload, 'kind' | 'roomId' | 'messageId' | 'userId' | 'at'>): string {
  return Buffer.from(JSON.stringify([e.kind, e.roomId, e.messageId, e.userId, e.at])).toString('base64url');
}

export function decodeEventId(id: string): Omit<RoomEventPayload, 'tenantId' | 'snapshot'> | null {
  try {
    const [kind, roomId, messageId, userId, at] = JSON.parse(
      Buffer.from(id, 'base64url').toString('utf8'),
    ) as unknown[];
    if (!KINDS.includes(kind as RoomEventKind) || !isUuid(roomId) || !isUuid(messageId) || typeof at !== 'number')
      return null;
    if (userId !== null && !isUuid(userId)) return null;
    return { kind: kind as RoomEventKind, roomId, messageId, userId: userId as string | null, at };
  } catch {
    return null;
  }
}

/** Topic of one room's events; the tenant is part of it, so one tenant's subscribers never see another's. */
export function roomTopic(tenantId: string, roomId: string): string {
  return `messaging.room.${tenantId}.${roomId}`;
}

/** Someone typing in a room (or stopping), for `typing` subscribers. */
export interface TypingPayload {
  tenantId: string;
  roomId: string;
  userId: string;
  typing: boolean;
  expiresAt: number;
}

export function typingTopic(tenantId: string, roomId: string): string {
  return `messaging.typing.${tenantId}.${roomId}`;
}

/** Announces a typing change to the room's `typing` subscribers (best effort, like every live event). */
export async function publishTyping(deps: SubgraphDeps, payload: TypingPayload): Promise<void> {
  await deps.pubsub.publish(typingTopic(payload.tenantId, payload.roomId), payload).catch(() => undefined);
}

/** Every room event of a tenant (unread counts listen here). */
export function tenantRoomsTopic(tenantId: string): string {
  return `messaging.rooms.${tenantId}`;
}

/**
 * Announces a committed change to live subscribers. Best effort: a subscriber that misses it catches up
 * from history and read pointers, which are the record.
 */
export async function publishRoomEvent(
  deps: SubgraphDeps,
  event: Omit<RoomEventPayload, 'at'>,
  options: { toRoom?: boolean } = {},
): Promise<void> {
  const payload: RoomEventPayload = { ...event, at: Date.now() };
  const topics = [tenantRoomsTopic(event.tenantId)];
  if (options.toRoom !== false) topics.push(roomTopic(event.tenantId, event.roomId));
  await Promise.all(topics.map((t) => deps.pubsub.publish(t, payload))).catch(() => undefined);
}

/** Yields the events of a tenant only (topics already carry it; this holds even if one were misrouted). */
export async function* ofTenant<T extends { tenantId: string }>(
  events: AsyncIterableIterator<T>,
  tenantId: string,
  keep: (e: T) => boolean = () => true,
) {
  try {
    for await (const event of events) if (event.tenantId === tenantId && keep(event)) yield event;
  } finally {
    await events.return?.();
  }
}
