import { Arg, Authorized, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { currentContext } from '../../../kernel/context';
import { requestLoader } from '../../../kernel/loaders';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { Message } from './message.entity';
import { MessageService } from './message.service';
import { MessageConnection, SendMessageInput } from './message.types';

@Resolver(() => Message)
export class MessageResolver {
  private readonly service: MessageService;
  constructor(deps: SubgraphDeps) {
    this.service = new MessageService(deps);
  }

  @Authorized('messages:send')
  @Mutation(() => Message)
  sendMessage(@Arg('input', () => SendMessageInput) input: SendMessageInput): Promise<Message> {
    return this.service.send(currentContext(), input);
  }

  @Authorized('messages:read')
  @Query(() => MessageConnection, { description: 'Room history, newest first; pass endCursor as `after` for older' })
  messages(
    @Arg('roomId', () => ID) roomId: string,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<MessageConnection> {
    return this.service.history(currentContext(), roomId, first, after);
  }

  @Authorized('messages:read')
  @Query(() => Message, { nullable: true })
  message(@Arg('id', () => ID) id: string): Promise<Message | null> {
    return this.service.byId(currentContext(), id);
  }
}

export function messageReferenceResolver(deps: SubgraphDeps) {
  const service = new MessageService(deps);
  return {
    Message: {
      __resolveReference: (ref: { id: string }) =>
        requestLoader<Message>('messaging.message', (ids) => service.byIds(currentContext(), ids)).load(ref.id),
    },
  };
}
