import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { Directive, Field, ID, ObjectType, registerEnumType } from 'type-graphql';

export enum TenantStatus {
  ACTIVE = 'active',
  SUSPENDED = 'suspended',
}
registerEnumType(TenantStatus, { name: 'TenantStatus' });

@Directive('@key(fields: "id")')
@ObjectType('Tenant')
@Entity({ name: 'tenants' })
export class Tenant {
  @Field(() => ID)
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  id: string;

  @Field(() => String)
  @Column('text')
  name: string;

  @Field(() => String)
  @Column('text')
  slug: string;

  @Field(() => TenantStatus)
  @Column('text')
  status: TenantStatus;

  @Field(() => Date)
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
