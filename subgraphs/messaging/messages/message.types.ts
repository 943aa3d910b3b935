import { Directive, Field, ID, InputType, ObjectType } from 'type-graphql';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';
import { Message } from './message.entity';

export const MESSAGE_MAX_LENGTH = TEXT_LIMITS.message;

@InputType()
export class SendMessageInput {
  @Field(() => ID)
  roomId: string;

  @Field(() => String, {
    description: `${lengthRange(MESSAGE_MAX_LENGTH)} after control characters are removed and the ends trimmed`,
  })
  body: string;

  @Field(() => String, {
    nullable: true,
    description: `Your own id for the message (${lengthRange(TEXT_LIMITS.clientMessageId)}): a retry with it never duplicates, nor uses the messages limit again`,
  })
  clientMessageId?: string | null;

  @Field(() => ID, { nullable: true, description: 'Reply to this message of the same room' })
  replyToId?: string | null;
}

@InputType()
export class EditMessageInput {
  @Field(() => ID)
  id: string;

  @Field(() => String, { description: `${lengthRange(MESSAGE_MAX_LENGTH)}, as in sendMessage` })
  body: string;
}

@ObjectType()
export class MessageEdge {
  @Field(() => String)
  cursor: string;

  @Field(() => Message)
  node: Message;
}

@Directive('@shareable')
@ObjectType()
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage: boolean;

  @Field(() => String, { nullable: true })
  endCursor: string | null;

  @Field(() => Boolean, { description: 'Newer messages exist than this page (pass startCursor as `before`)' })
  hasPreviousPage: boolean;

  @Field(() => String, { nullable: true })
  startCursor: string | null;
}

@ObjectType({ description: 'Messages of a room, newest first' })
export class MessageConnection {
  @Field(() => [MessageEdge])
  edges: MessageEdge[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;
}
