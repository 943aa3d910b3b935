import { Directive, Field, ID, InputType, ObjectType } from 'type-graphql';
import { Message } from './message.entity';

export const MESSAGE_MAX_LENGTH = 4000;

@InputType()
export class SendMessageInput {
  @Field(() => ID)
  roomId: string;

  @Field(() => String)
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
}

@ObjectType({ description: 'Messages of a room, newest first' })
export class MessageConnection {
  @Field(() => [MessageEdge])
  edges: MessageEdge[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;
}
