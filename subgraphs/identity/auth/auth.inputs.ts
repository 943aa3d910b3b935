import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { User } from '../users/user.entity';
import { TenantReference } from '../users/tenant.reference';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';

@InputType()
export class RegisterInput {
  @Field(() => String)
  email: string;

  @Field(() => String)
  password: string;

  @Field(() => String, {
    nullable: true,
    description: `Name of the new tenant this account creates and owns: ${lengthRange(TEXT_LIMITS.tenantName, 0)}; control and bidirectional formatting characters are removed`,
  })
  tenantName?: string | null;
}

@InputType()
export class LoginInput {
  @Field(() => String)
  email: string;

  @Field(() => String)
  password: string;

  @Field(() => ID, { nullable: true, description: 'Tenant to sign in to; defaults to the oldest membership' })
  tenantId?: string | null;
}

@ObjectType()
export class AuthPayload {
  @Field(() => String, { description: 'Short-lived access JWT for the Authorization: Bearer header' })
  accessToken: string;

  @Field(() => String, { description: 'Opaque refresh token; keep it secret' })
  refreshToken: string;

  @Field(() => User)
  user: User;

  @Field(() => TenantReference)
  tenant: TenantReference;
}
