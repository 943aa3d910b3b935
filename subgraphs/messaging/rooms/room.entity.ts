import { Column, Entity } from 'typeorm';
import { TenantOwnedEntity } from '../../../kernel/db/tenant-owned.entity';
import { Directive, Field, ObjectType, registerEnumType } from 'type-graphql';
import { ReadReceiptPolicy } from './read-receipt-policy';

export enum RoomType {
  /** Open to every member of the tenant. */
  GENERAL = 'general',
  /** One per user, with the tenant's admins. */
  SUPPORT = 'support',
  /** Two people of the tenant, one room per pair. */
  DM = 'dm',
  /** A private group: its members only. */
  ALLIANCE = 'alliance',
}
registerEnumType(RoomType, { name: 'RoomType' });

@Directive('@key(fields: "id")')
@ObjectType('Room')
@Entity({ name: 'rooms' })
export class Room extends TenantOwnedEntity {
  @Field(() => String)
  @Column('text')
  name: string;

  @Column('uuid', { name: 'created_by' })
  createdBy: string;

  @Field(() => RoomType)
  @Column('text', { default: RoomType.GENERAL })
  type: RoomType;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { name: 'archived_at', nullable: true })
  archivedAt: Date | null;

  @Column('text', { name: 'dm_key', nullable: true })
  dmKey: string | null;

  @Column('uuid', { name: 'support_user', nullable: true })
  supportUser: string | null;

  @Field(() => ReadReceiptPolicy, {
    nullable: true,
    description: "This room's read-receipt policy; null: the tenant's",
  })
  @Column('text', { name: 'read_receipts', nullable: true })
  readReceipts: ReadReceiptPolicy | null;
}
