import { Field, ID, ObjectType } from 'type-graphql';
import { TenantReference } from '../users/tenant.reference';

@ObjectType('Session', { description: 'A signed-in device' })
export class SessionInfo {
  @Field(() => ID)
  id: string;

  @Field(() => Date)
  createdAt: Date;

  @Field(() => Date)
  lastUsedAt: Date;

  @Field(() => Date)
  expiresAt: Date;

  @Field(() => String, { nullable: true })
  userAgent: string | null;

  @Field(() => String, { nullable: true })
  ip: string | null;

  @Field(() => Boolean, { description: 'True for the session making this request' })
  current: boolean;

  @Field(() => TenantReference)
  tenant: TenantReference;
}
