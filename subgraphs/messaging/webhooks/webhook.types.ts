import { Field, ID, ObjectType } from 'type-graphql';

@ObjectType({ description: 'An inbound webhook that posts system messages into a room' })
export class RoomWebhook {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  roomId: string;

  @Field(() => String, { description: 'Shown as the sender of its messages' })
  name: string;

  @Field(() => String, {
    description: "Where to POST, relative to the gateway's address: /hooks/messaging/<tenant>/<webhook>",
  })
  path: string;

  @Field(() => Date)
  createdAt: Date;
}

@ObjectType()
export class CreatedRoomWebhook {
  @Field(() => RoomWebhook)
  webhook: RoomWebhook;

  @Field(() => String, { description: 'The signing secret: shown this once only' })
  secret: string;
}
