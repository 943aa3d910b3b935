import { Arg, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';
import { AuditEventConnection } from '../audit/audit-event.entity';
import { AuthPayload } from '../auth/auth.inputs';
import { PlatformAdminService } from './platform-admin.service';
import { PlatformAdmin, PlatformAuditLogFilter } from './platform-admin.types';

/** Platform operations: only Super Admins (with two-factor sign-in) hold `platform:*` permissions. */
@Resolver()
export class PlatformAdminResolver {
  private readonly admins: PlatformAdminService;
  constructor(deps: SubgraphDeps) {
    this.admins = new PlatformAdminService(deps);
  }

  @Authorized('platform:admins')
  @Query(() => [PlatformAdmin], { description: 'Platform Super Admins' })
  superAdmins(): Promise<PlatformAdmin[]> {
    return this.admins.list();
  }

  @Authorized('platform:admins')
  @Mutation(() => PlatformAdmin, { description: 'Makes an existing account a platform Super Admin' })
  grantSuperAdmin(@Arg('email', () => String) email: string): Promise<PlatformAdmin> {
    return this.admins.grant(currentContext(), email);
  }

  @Authorized('platform:admins')
  @Mutation(() => Boolean, { description: 'Takes platform rights away (not from accounts named in configuration)' })
  revokeSuperAdmin(@Arg('userId', () => ID) userId: string): Promise<boolean> {
    return this.admins.revoke(currentContext(), userId);
  }

  @Authorized('platform:tenants')
  @Mutation(() => AuthPayload, {
    description: 'Enters a tenant you are not a member of, as admin for one hour; flagged and audited there',
  })
  impersonateTenant(
    @Arg('tenantId', () => ID) tenantId: string,
    @Arg('reason', () => String, {
      description: `Kept in the tenant's audit log: ${lengthRange(TEXT_LIMITS.reason, 3)}`,
    })
    reason: string,
  ): Promise<AuthPayload> {
    return this.admins.impersonate(currentContext(), tenantId, reason);
  }

  @Authorized('platform:audit')
  @Query(() => AuditEventConnection, {
    description: "Every tenant's security audit log (or one tenant's), newest first; each read is audited",
  })
  platformAuditLog(
    @Arg('filter', () => PlatformAuditLogFilter, { nullable: true }) filter?: PlatformAuditLogFilter | null,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<AuditEventConnection> {
    return this.admins.auditLog(currentContext(), filter, first, after);
  }
}
