import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { AuditLogFilter } from '../audit/audit-event.entity';

export const SUPER_ADMIN_ROLE = 'super_admin';

@ObjectType()
export class PlatformAdmin {
  @Field(() => ID)
  userId: string;

  @Field(() => String)
  email: string;

  @Field(() => Date, {
    nullable: true,
    description: 'When granted over the API (null when named in SUPER_ADMIN_EMAILS)',
  })
  grantedAt: Date | null;

  @Field(() => ID, { nullable: true })
  grantedBy: string | null;

  @Field(() => Boolean, {
    description: 'Named in SUPER_ADMIN_EMAILS and holding that address confirmed: only configuration can remove it',
  })
  viaConfiguration: boolean;

  @Field(() => Boolean, { description: 'Platform rights apply only while the account uses two-factor sign-in' })
  twoFactorEnabled: boolean;
}

@InputType()
export class PlatformAuditLogFilter extends AuditLogFilter {
  @Field(() => ID, { nullable: true })
  tenantId?: string | null;
}
