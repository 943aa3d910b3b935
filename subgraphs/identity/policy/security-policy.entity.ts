import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Field, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ACCESS_RESTRICTIONS } from '../../../kernel/context';

/** What a member whose address is not confirmed yet may do in the tenant. */
export enum UnverifiedAccess {
  /** Everything their roles allow. */
  FULL = 'FULL',
  /** Only reading (`*:read` permissions) plus their own account. */
  READ_ONLY = 'READ_ONLY',
  /** Only their own account (profile, password, 2FA, sessions) until they confirm. */
  ACCOUNT_ONLY = 'ACCOUNT_ONLY',
}
registerEnumType(UnverifiedAccess, {
  name: 'UnverifiedAccess',
  description: 'What members with an unconfirmed e-mail address may do',
});

/** Error codes a restricted member gets, also listed in `myAccess.restrictions`. */
export const AccessRestrictionEnum = Object.fromEntries(ACCESS_RESTRICTIONS.map((r) => [r, r])) as {
  [K in (typeof ACCESS_RESTRICTIONS)[number]]: K;
};
registerEnumType(AccessRestrictionEnum, {
  name: 'AccessRestriction',
  description: 'Why your rights in this tenant are limited to your own account for now',
});

/** A tenant's sign-in rules for its members. A tenant without a row has the defaults (no extra rules). */
@ObjectType('SecurityPolicy')
@Entity({ name: 'tenant_security_policies' })
export class TenantSecurityPolicy {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId: string;

  @Field(() => Boolean, {
    description:
      'Members must use two-factor authentication; until they set it up they can only manage their own account',
  })
  @Column('boolean', { name: 'require_two_factor', default: false })
  requireTwoFactor: boolean;

  @Field(() => UnverifiedAccess)
  @Column('text', { name: 'unverified_access', default: UnverifiedAccess.FULL })
  unverifiedAccess: UnverifiedAccess;

  @Field(() => Int, {
    description: 'Shortest password a member may set (8 to 128); existing passwords stay until changed',
  })
  @Column('int', { name: 'password_min_length', default: 8 })
  passwordMinLength: number;

  @Field(() => Boolean, {
    description:
      "Members sign in through the tenant's identity provider only (owners keep their password, for when the provider fails)",
  })
  @Column('boolean', { name: 'require_sso', default: false })
  requireSso: boolean;

  @Field(() => Date, { nullable: true })
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date | null;
}

@InputType()
export class UpdateSecurityPolicyInput {
  @Field(() => Boolean, { nullable: true, description: 'To turn this on you need two-factor authentication yourself' })
  requireTwoFactor?: boolean | null;

  @Field(() => UnverifiedAccess, { nullable: true })
  unverifiedAccess?: UnverifiedAccess | null;

  @Field(() => Int, { nullable: true })
  passwordMinLength?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'Needs an enabled SSO connection' })
  requireSso?: boolean | null;
}

/** The caller's own rights in the current tenant, as every service sees them. */
@ObjectType()
export class MyAccess {
  @Field(() => [String])
  roles: string[];

  @Field(() => [String], { description: 'Permission strings (`resource:action`)' })
  permissions: string[];

  @Field(() => [AccessRestrictionEnum], {
    description: 'Empty unless a tenant rule limits you to your own account for now',
  })
  restrictions: string[];
}
