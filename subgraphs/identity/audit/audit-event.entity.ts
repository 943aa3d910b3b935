import { Column, Entity, PrimaryColumn } from 'typeorm';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum AuditResult {
  SUCCESS = 'success',
  FAILURE = 'failure',
}
registerEnumType(AuditResult, { name: 'AuditResult' });

/** One security-relevant event: who did what to which target, from where, and whether it worked. */
@ObjectType('AuditEvent')
@Entity({ name: 'audit_events' })
export class AuditEvent {
  @Field(() => ID)
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId: string;

  @Field(() => ID)
  @PrimaryColumn('uuid')
  id: string;

  @Field(() => Date)
  @Column('timestamptz', { name: 'occurred_at' })
  occurredAt: Date;

  @Field(() => ID, { nullable: true, description: 'The account that acted (null when unknown, e.g. a failed sign-in)' })
  @Column('uuid', { name: 'actor_id', nullable: true })
  actorId: string | null;

  @Field(() => String, { description: 'e.g. login, login_failed, refresh, refresh_reuse, logout, session_revoked' })
  @Column('text')
  action: string;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  target: string | null;

  @Field(() => AuditResult)
  @Column('text')
  result: AuditResult;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  ip: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { name: 'user_agent', nullable: true })
  userAgent: string | null;

  @Field(() => ID, {
    nullable: true,
    description: 'Set when a platform Super Admin acted in this tenant without being a member',
  })
  @Column('uuid', { name: 'impersonator_id', nullable: true })
  impersonatorId: string | null;

  @Field(() => GraphQLJSONObject, {
    description: 'What changed or why it was refused, e.g. { before, after } or { beyond }',
  })
  @Column('jsonb')
  details: Record<string, unknown>;
}

@InputType()
export class AuditLogFilter {
  @Field(() => String, { nullable: true })
  action?: string | null;

  @Field(() => ID, { nullable: true })
  actorId?: string | null;

  @Field(() => AuditResult, { nullable: true })
  result?: AuditResult | null;

  @Field(() => Date, { nullable: true })
  since?: Date | null;

  @Field(() => Date, { nullable: true })
  until?: Date | null;
}

@ObjectType()
export class AuditEventEdge {
  @Field(() => String)
  cursor: string;

  @Field(() => AuditEvent)
  node: AuditEvent;
}

@ObjectType()
export class AuditEventConnection {
  @Field(() => [AuditEventEdge])
  edges: AuditEventEdge[];

  @Field(() => Boolean)
  hasNextPage: boolean;

  @Field(() => String, { nullable: true })
  endCursor: string | null;

  @Field(() => Int, { description: 'Events on this page' })
  count: number;
}
