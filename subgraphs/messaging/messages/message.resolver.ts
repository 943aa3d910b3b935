import { Arg, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { Authorized, requirePermissions } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import { declareAudience } from '../../../kernel/subscription-audience';
import { requestLoader } from '../../../kernel/loaders';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';
import { Message } from './message.entity';
import { MessageService, fromEvent } from './message.service';
import { RoomEventKind, ofTenant, roomTopic, type RoomEventPayload } from '../realtime/room-events';
import { EditMessageInput, MessageConnection, SendMessageInput } from './message.types';
import { GatewayPolicy } from '../../../kernel/contracts/gateway-policy';

@Resolver(() => Message)
export class MessageResolver {
  private readonly service: MessageService;
  constructor(deps: SubgraphDeps) {
    this.service = new MessageService(deps);
  }

  @GatewayPolicy('uses-messages')
  @Authorized('messages:send')
  @Mutation(() => Message)
  sendMessage(@Arg('input', () => SendMessageInput) input: SendMessageInput): Promise<Message> {
    return this.service.send(currentContext(), input);
  }

  @Authorized('messages:send')
  @Mutation(() => Message, { description: 'Changes the text of your own message' })
  editMessage(@Arg('input', () => EditMessageInput) input: EditMessageInput): Promise<Message> {
    return this.service.edit(currentContext(), input.id, input.body);
  }

  @Authorized('messages:send')
  @Mutation(() => Message, {
    description:
      "Deletes a message: it stays in the history without its text. Your own, or anyone's with messages:moderate (then with a reason, logged)",
  })
  deleteMessage(
    @Arg('id', () => ID) id: string,
    @Arg('reason', () => String, {
      nullable: true,
      description: `Required for someone else's message: ${lengthRange(TEXT_LIMITS.reason)}`,
    })
    reason?: string | null,
  ): Promise<Message> {
    return this.service.delete(currentContext(), id, reason);
  }

  @Authorized('messages:read')
  @Query(() => MessageConnection, {
    description: 'Room history, newest first; pass endCursor as `after` for older, startCursor as `before` for newer',
  })
  messages(
    @Arg('roomId', () => ID) roomId: string,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('before', () => String, { nullable: true }) before?: string | null,
  ): Promise<MessageConnection> {
    return this.service.history(currentContext(), roomId, first, after, before);
  }

  @Authorized('messages:read')
  @Subscription(() => Message, { subscribe: subscribeToRoom, description: 'Messages posted to a room from now on' })
  messageAdded(@Root() event: RoomEventPayload, @Arg('roomId', () => ID) _roomId: string): Message {
    return fromEvent(event.snapshot!);
  }

  @Authorized('messages:read')
  @Query(() => Message, { nullable: true })
  message(@Arg('id', () => ID) id: string): Promise<Message | null> {
    return this.service.byId(currentContext(), id);
  }
}

/** Starts a room subscription after checking the caller may read that room of their tenant. */
async function subscribeToRoom({ args, context }: { args: { roomId: string }; context: { deps: SubgraphDeps } }) {
  const ctx = currentContext();
  requirePermissions(ctx, ['messages:read']); // refused as the auth checker refuses (restriction codes included)
  const room = await new MessageService(context.deps).assertRoom(ctx, args.roomId);
  declareAudience(`room:${room.id}`);
  const events = context.deps.pubsub.iterate(roomTopic(ctx.tenantId!, room.id));
  return ofTenant(events, ctx.tenantId!, (e) => e.kind === RoomEventKind.MESSAGE_ADDED && e.snapshot !== undefined);
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
