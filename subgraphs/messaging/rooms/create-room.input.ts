import { Field, InputType } from 'type-graphql';

@InputType()
export class CreateRoomInput {
  @Field(() => String)
  name: string;
}
