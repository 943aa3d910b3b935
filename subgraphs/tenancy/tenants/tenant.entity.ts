import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { Directive, Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';

export enum TenantStatus {
  ACTIVE = 'active',
  SUSPENDED = 'suspended',
  /** The trial ended: refused (except status and billing) until reactivated. */
  TRIAL_EXPIRED = 'trial_expired',
  /** Deleted by its owner: restorable until purgeAt, then purged from every subgraph. */
  DELETED = 'deleted',
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

  @Field(() => String, { nullable: true, description: 'Why the status last changed (e.g. the suspension reason)' })
  @Column('text', { name: 'status_reason', nullable: true })
  statusReason: string | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { name: 'status_changed_at', nullable: true })
  statusChangedAt: Date | null;

  @Field(() => Date, { nullable: true, description: 'End of the trial period (null: not on trial)' })
  @Column('timestamptz', { name: 'trial_ends_at', nullable: true })
  trialEndsAt: Date | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { name: 'deleted_at', nullable: true })
  deletedAt: Date | null;

  @Field(() => Date, { nullable: true, description: 'When a deleted tenant is purged (restoreTenant before then)' })
  @Column('timestamptz', { name: 'purge_at', nullable: true })
  purgeAt: Date | null;

  @Field(() => Date)
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

@InputType()
export class CreateTenantInput {
  @Field(() => String, {
    description: `${lengthRange(TEXT_LIMITS.tenantName)}; control and bidirectional formatting characters are removed`,
  })
  name: string;

  @Field(() => String, {
    nullable: true,
    description: 'Lower-case letters, digits and dashes; derived from the name when omitted',
  })
  slug?: string | null;
}

@InputType()
export class UpdateTenantInput {
  @Field(() => String, {
    nullable: true,
    description: `${lengthRange(TEXT_LIMITS.tenantName)}; control and bidirectional formatting characters are removed`,
  })
  name?: string | null;

  @Field(() => String, { nullable: true, description: '1 to 64 lower-case letters, digits and dashes' })
  slug?: string | null;
}

@ObjectType('TenantMembership', { description: 'A tenant the signed-in account belongs to' })
export class MyTenant {
  @Field(() => Tenant)
  tenant: Tenant;

  @Field(() => String)
  role: string;

  @Field(() => Date)
  joinedAt: Date;

  @Field(() => Boolean, { description: 'The tenant this session acts in' })
  current: boolean;
}
