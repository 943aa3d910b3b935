import { Arg, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';
import { CreatedRoomWebhook, RoomWebhook } from './webhook.types';
import { WebhookService } from './webhook.service';

@Resolver()
export class WebhookResolver {
  private readonly service: WebhookService;
  constructor(deps: SubgraphDeps) {
    this.service = new WebhookService(deps);
  }

  @Authorized('webhooks:manage')
  @Mutation(() => CreatedRoomWebhook, {
    description: 'An inbound webhook for a room; its secret is returned this once',
  })
  createRoomWebhook(
    @Arg('roomId', () => ID) roomId: string,
    @Arg('name', () => String, {
      description: `Shown as the sender of its messages: ${lengthRange(TEXT_LIMITS.webhookName)}`,
    })
    name: string,
  ): Promise<CreatedRoomWebhook> {
    return this.service.create(currentContext(), roomId, name);
  }

  @Authorized('webhooks:manage')
  @Query(() => [RoomWebhook])
  roomWebhooks(@Arg('roomId', () => ID) roomId: string): Promise<RoomWebhook[]> {
    return this.service.list(currentContext(), roomId);
  }

  @Authorized('webhooks:manage')
  @Mutation(() => Boolean)
  deleteRoomWebhook(@Arg('id', () => ID) id: string): Promise<boolean> {
    return this.service.delete(currentContext(), id);
  }
}
