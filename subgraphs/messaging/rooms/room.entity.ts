import { Column, Entity } from 'typeorm';
import { TenantOwnedEntity } from '../../../kernel/db/tenant-owned.entity';
import { Directive, Field, ObjectType } from 'type-graphql';

@Directive('@key(fields: "id")')
@ObjectType('Room')
@Entity({ name: 'rooms' })
export class Room extends TenantOwnedEntity {
  @Field(() => String)
  @Column('text')
  name: string;

  @Column('uuid', { name: 'created_by' })
  createdBy: string;

}
