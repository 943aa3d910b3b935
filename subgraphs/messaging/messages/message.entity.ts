import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { Directive, Field, ID, ObjectType } from 'type-graphql';
import { UserReference } from '../user.reference';
import { Room } from '../rooms/room.entity';

@Directive('@key(fields: "id")')
@ObjectType('Message')
@Entity({ name: 'messages' })
export class Message {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId: string;

  @Field(() => ID)
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'room_id' })
  roomId: string;

  @Column('uuid', { name: 'author_id' })
  authorId: string;

  @Field(() => String, { description: 'Plain text; never rendered as HTML' })
  @Column('text')
  body: string;

  @Field(() => Date)
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 6 })
  createdAt: Date;

  @Field(() => UserReference)
  author(): UserReference {
    return { id: this.authorId };
  }

  @Field(() => Room)
  room: Room;
}
