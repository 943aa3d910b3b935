import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Room } from '../rooms/room.entity';
import { UserReference } from '../user.reference';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';

export enum PresenceStatus {
  ONLINE = 'online',
  AWAY = 'away',
  OFFLINE = 'offline',
}
registerEnumType(PresenceStatus, { name: 'PresenceStatus' });

@ObjectType({ description: "The viewer's unread messages in a room (others' messages after their read pointer)" })
export class UnreadCount {
  @Field(() => ID, { description: 'The room id' })
  id: string;

  @Field(() => ID)
  roomId: string;

  @Field(() => Room)
  room: Room;

  @Field(() => Int, { description: 'At most 1000' })
  count: number;

  @Field(() => ID, { nullable: true })
  lastReadMessageId: string | null;
}

@ObjectType({ description: "Someone's read pointer in a room" })
export class ReadReceipt {
  @Field(() => ID)
  userId: string;

  @Field(() => UserReference)
  user(): UserReference {
    return { id: this.userId };
  }

  @Field(() => ID)
  messageId: string;

  @Field(() => Date)
  readAt: Date;
}

@ObjectType({ description: 'Someone typing in a room; `typing` false or `expiresAt` passed means they stopped' })
export class TypingEvent {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  roomId: string;

  @Field(() => ID)
  userId: string;

  @Field(() => UserReference)
  user(): UserReference {
    return { id: this.userId };
  }

  @Field(() => Boolean)
  typing: boolean;

  @Field(() => Date)
  expiresAt: Date;
}

@ObjectType({ description: "A person's presence in the tenant, over all their devices" })
export class Presence {
  @Field(() => ID, { description: 'The user id' })
  id: string;

  @Field(() => ID)
  userId: string;

  @Field(() => UserReference)
  user(): UserReference {
    return { id: this.userId };
  }

  @Field(() => PresenceStatus, { description: 'ONLINE if any device is, AWAY if all are away, OFFLINE with none left' })
  status: PresenceStatus;

  @Field(() => String, { nullable: true, description: 'What the most recently active device is viewing' })
  page: string | null;

  @Field(() => Int)
  devices: number;

  @Field(() => Date, { nullable: true })
  lastSeenAt: Date | null;
}

@InputType()
export class SetPresenceInput {
  @Field(() => String, {
    description: `Your id for this device or tab (${lengthRange(TEXT_LIMITS.presenceDevice)}); control and bidirectional formatting characters are removed`,
  })
  deviceId: string;

  @Field(() => PresenceStatus, { description: 'OFFLINE ends this device now' })
  status: PresenceStatus;

  @Field(() => String, {
    nullable: true,
    description: `The page or view shown (${lengthRange(TEXT_LIMITS.presencePage, 0)}), as the tenant's members see it: control and bidirectional formatting characters are removed`,
  })
  page?: string | null;
}
