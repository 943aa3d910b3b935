import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { isUuid } from '../../../kernel/db/values';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { Message } from '../messages/message.entity';
import {
  RoomEventKind,
  roomTopic,
  tenantRoomsTopic,
  typingTopic,
  type RoomEventMessage,
  type RoomTopic,
  type TenantRoomsTopic,
  type TypingMessage,
} from '../../../kernel/contracts/topics';
import { UserReference } from '../user.reference';

export { RoomEventKind, roomTopic, tenantRoomsTopic, typingTopic };
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
export type RoomEventPayload = RoomEventMessage;

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

/** Someone typing in a room (or stopping), for `typing` subscribers. */
export type TypingPayload = TypingMessage;

/** Announces a typing change to the room's `typing` subscribers (best effort, like every live event). */
export async function publishTyping(deps: SubgraphDeps, payload: TypingPayload): Promise<void> {
  await deps.pubsub.publish(typingTopic(payload.tenantId, payload.roomId), payload).catch(() => undefined);
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
  const topics: (TenantRoomsTopic | RoomTopic)[] = [tenantRoomsTopic(event.tenantId)];
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
