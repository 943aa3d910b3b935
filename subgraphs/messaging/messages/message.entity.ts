import { Column, Entity } from 'typeorm';
import { TenantOwnedEntity } from '../../../kernel/db/tenant-owned.entity';
import { Directive, Field, ID, ObjectType } from 'type-graphql';
import { UserReference } from '../user.reference';
import { Room } from '../rooms/room.entity';

@Directive('@key(fields: "id")')
@ObjectType('Message')
@Entity({ name: 'messages' })
export class Message extends TenantOwnedEntity {
  @Column('uuid', { name: 'room_id' })
  roomId: string;

  @Column('uuid', { name: 'author_id', nullable: true })
  authorId: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Who posted a system message (an integration by its name); null for people',
  })
  @Column('text', { name: 'sender_name', nullable: true })
  senderName: string | null;

  @Field(() => String, { description: 'Plain text; never rendered as HTML (empty once deleted)' })
  @Column('text')
  body: string;

  @Field(() => String, {
    nullable: true,
    description: "The sender's id for this message: sending it again returns the same message",
  })
  @Column('text', { name: 'client_message_id', nullable: true })
  clientMessageId: string | null;

  @Field(() => ID, { nullable: true, description: 'The message this one replies to (its thread)' })
  @Column('uuid', { name: 'reply_to_id', nullable: true })
  replyToId: string | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { name: 'edited_at', nullable: true })
  editedAt: Date | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { name: 'deleted_at', nullable: true })
  deletedAt: Date | null;

  @Column('uuid', { name: 'deleted_by', nullable: true })
  deletedBy: string | null;

  @Field(() => Boolean)
  get deleted(): boolean {
    return this.deletedAt !== null && this.deletedAt !== undefined;
  }

  @Field(() => UserReference, { nullable: true, description: 'Null for a system message (see senderName)' })
  author(): UserReference | null {
    return this.authorId ? { id: this.authorId } : null;
  }

  @Field(() => Boolean, { description: 'Posted by an integration, not a person' })
  get system(): boolean {
    return !this.authorId;
  }

  @Field(() => Room)
  room: Room;
}
