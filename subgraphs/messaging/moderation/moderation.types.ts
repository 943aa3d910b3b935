import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { UserReference } from '../user.reference';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';

export enum ModerationActionKind {
  MUTE = 'mute',
  UNMUTE = 'unmute',
  BAN = 'ban',
  UNBAN = 'unban',
  REMOVE = 'remove',
  DELETE_MESSAGE = 'delete_message',
  /** A platform Super Admin read the room. */
  OBSERVE = 'observe',
}
registerEnumType(ModerationActionKind, { name: 'ModerationAction' });

@InputType()
export class ModerateMemberInput {
  @Field(() => ID)
  roomId: string;

  @Field(() => ID)
  userId: string;

  @Field(() => String, { description: `${lengthRange(TEXT_LIMITS.reason)}; kept in the moderation log` })
  reason: string;

  @Field(() => Int, {
    nullable: true,
    description: 'For mutes and bans: ends by itself after this many minutes (1 to 525600); none: until lifted',
  })
  minutes?: number | null;
}

@ObjectType({ description: 'One moderation action (or Super Admin observation), with who did it and why' })
export class ModerationEntry {
  @Field(() => ID)
  id: string;

  @Field(() => ID, { nullable: true })
  roomId: string | null;

  @Field(() => ModerationActionKind)
  action: ModerationActionKind;

  @Field(() => ID)
  actorId: string;

  @Field(() => UserReference, {
    nullable: true,
    description: 'Null where you cannot see the actor (a Super Admin from outside the tenant: see actorId)',
  })
  actor(): UserReference | null {
    return { id: this.actorId };
  }

  @Field(() => ID, { nullable: true, description: 'Set when the actor was a Super Admin acting inside the tenant' })
  impersonatorId: string | null;

  @Field(() => ID, { nullable: true })
  targetUserId: string | null;

  @Field(() => ID, { nullable: true })
  messageId: string | null;

  @Field(() => String)
  reason: string;

  @Field(() => Date, { nullable: true })
  until: Date | null;

  @Field(() => Date)
  createdAt: Date;
}
