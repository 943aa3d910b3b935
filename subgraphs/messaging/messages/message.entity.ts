import { Column, Entity } from 'typeorm';
import { TenantOwnedEntity } from '../../../kernel/db/tenant-owned.entity';
import { Directive, Field, ObjectType } from 'type-graphql';
import { UserReference } from '../user.reference';
import { Room } from '../rooms/room.entity';

@Directive('@key(fields: "id")')
@ObjectType('Message')
@Entity({ name: 'messages' })
export class Message extends TenantOwnedEntity {
  @Column('uuid', { name: 'room_id' })
  roomId: string;

  @Column('uuid', { name: 'author_id' })
  authorId: string;

  @Field(() => String, { description: 'Plain text; never rendered as HTML' })
  @Column('text')
  body: string;

  @Field(() => UserReference)
  author(): UserReference {
    return { id: this.authorId };
  }

  @Field(() => Room)
  room: Room;
}
