import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { Field, ID, ObjectType } from 'type-graphql';
import { UserReference } from './user.reference';

@ObjectType('Membership')
@Entity({ name: 'memberships' })
export class Membership {
  @Field(() => ID)
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId: string;

  @PrimaryColumn('uuid', { name: 'user_id' })
  userId: string;

  @Field(() => String)
  @Column('text')
  role: string;

  @Field(() => Date, { description: 'When the user joined the tenant' })
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Field(() => UserReference)
  user(): UserReference {
    return { id: this.userId };
  }
}
