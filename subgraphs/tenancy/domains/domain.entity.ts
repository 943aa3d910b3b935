import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';

export enum DomainStatus {
  PENDING = 'pending',
  VERIFIED = 'verified',
  FAILED = 'failed',
}
registerEnumType(DomainStatus, {
  name: 'DomainStatus',
  description: 'FAILED: the TXT record was missing at the last check (it stops routing until verified again)',
});

export const CHALLENGE_PREFIX = '_nexus-challenge';
export const CHALLENGE_VALUE_PREFIX = 'nexus-verification=';

/** A custom domain of a tenant, proven by a TXT record at `_nexus-challenge.<domain>`. */
@ObjectType('Domain')
@Entity({ name: 'domains' })
export class Domain {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId: string;

  @Field(() => ID)
  @PrimaryColumn('uuid')
  id: string;

  @Field(() => String)
  @Column('text')
  domain: string;

  @Column('text')
  token: string;

  @Field(() => DomainStatus)
  @Column('text')
  status: DomainStatus;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { name: 'verified_at', nullable: true })
  verifiedAt: Date | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { name: 'last_checked_at', nullable: true })
  lastCheckedAt: Date | null;

  @Field(() => String, { nullable: true, description: 'Why the last check failed' })
  @Column('text', { name: 'last_error', nullable: true })
  lastError: string | null;

  @Field(() => Date)
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Field(() => String, { description: 'Name of the TXT record to create' })
  get txtRecordName(): string {
    return `${CHALLENGE_PREFIX}.${this.domain}`;
  }

  @Field(() => String, { description: 'Value the TXT record must hold' })
  get txtRecordValue(): string {
    return `${CHALLENGE_VALUE_PREFIX}${this.token}`;
  }
}
