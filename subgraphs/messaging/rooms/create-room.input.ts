import { Field, ID, InputType } from 'type-graphql';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';
import { RoomType } from './room.entity';

@InputType()
export class CreateRoomInput {
  @Field(() => String, {
    description: `${lengthRange(TEXT_LIMITS.roomName)}; control and bidirectional formatting characters are removed`,
  })
  name: string;

  @Field(() => RoomType, {
    nullable: true,
    description: 'GENERAL (default, open to the tenant) or ALLIANCE (members only)',
  })
  type?: RoomType | null;

  @Field(() => [ID], { nullable: true, description: 'First members of an ALLIANCE room (people of the tenant)' })
  memberIds?: string[] | null;
}
