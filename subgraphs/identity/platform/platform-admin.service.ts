import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { PLATFORM_PERMISSIONS } from '../../../kernel/contracts/permissions';
import { withSystem, withTenant, withUser } from '../../../kernel/db/tenant-scope';
import { isUuid, returningRows } from '../../../kernel/db/values';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TEXT_LIMITS } from '../../../kernel/text';
import { audit } from '../audit/audit.service';
import { AuditResult } from '../audit/audit-event.entity';
import type { AuditEventConnection } from '../audit/audit-event.entity';
import { AuditService } from '../audit/audit.service';
import { IdentityErrorCode, identityError } from '../identity.errors';
import { announceAccountChanged, type RestrictedAccess } from '../policy/security-policy.service';
import { lookupEmail } from '../users/email';
import { User } from '../users/user.entity';
import type { AuthPayload } from '../auth/auth.inputs';
import { IMPERSONATION_ROLE, SessionService } from '../sessions/session.service';
import type { Session } from '../sessions/session.entity';
import { SUPER_ADMIN_ROLE, type PlatformAdmin, type PlatformAuditLogFilter } from './platform-admin.types';
import { requireLiveSession } from '../sessions/live-session';

/**
 * Adds platform rights for a Super Admin (granted over the API, or named in configuration and holding that address
 * confirmed: whoever registers a configured address first gets nothing from it until its mailbox confirms it) who
 * uses two-factor sign-in. Runs in a transaction scoped to the tenant with `app.user_id` set to the account.
 */
export async function withPlatformRights(
  em: EntityManager,
  userId: string,
  access: RestrictedAccess,
  configured: readonly string[],
): Promise<RestrictedAccess> {
  const [row]: { email: string | null; confirmed: boolean; totp: boolean; granted: boolean }[] = await em.query(
    `SELECT u.email, u.email_verified_at IS NOT NULL AS confirmed, u.totp_enabled_at IS NOT NULL AS totp,
            EXISTS (SELECT 1 FROM identity.platform_admins a WHERE a.user_id = u.id) AS granted
       FROM identity.users u WHERE u.id = $1`,
    [userId],
  );
  const byConfiguration = row?.email != null && row.confirmed && configured.includes(row.email);
  if (!row?.totp || !(row.granted || byConfiguration)) return access;
  return {
    ...access,
    roles: [...access.roles, SUPER_ADMIN_ROLE],
    permissions: [...new Set([...access.permissions, ...PLATFORM_PERMISSIONS])].sort(),
  };
}

const IMPERSONATION_SECONDS = 3600;

/** Platform Super Admins: who they are, granting and revoking, entering tenants, the audit log across tenants. */
export class PlatformAdminService {
  private readonly audit: AuditService;

  private readonly sessions: SessionService;

  constructor(private readonly deps: SubgraphDeps) {
    this.audit = new AuditService(deps.ds);
    this.sessions = new SessionService(deps);
  }

  private get configured(): readonly string[] {
    return this.deps.config.auth.SUPER_ADMIN_EMAILS;
  }

  list(): Promise<PlatformAdmin[]> {
    return withSystem(this.deps.ds, 'list platform admins', async (em) => {
      const rows: {
        user_id: string;
        email: string;
        granted_at: Date | null;
        granted_by: string | null;
        totp: boolean;
        confirmed: boolean;
      }[] = await em.query(
        `SELECT u.id AS user_id, u.email, a.granted_at, a.granted_by, u.totp_enabled_at IS NOT NULL AS totp, u.email_verified_at IS NOT NULL AS confirmed
           FROM identity.users u LEFT JOIN identity.platform_admins a ON a.user_id = u.id
          WHERE a.user_id IS NOT NULL OR (u.email = ANY($1::text[]) AND u.email_verified_at IS NOT NULL)
          ORDER BY u.email`,
        [this.configured],
      );
      return rows.map((r) => ({
        userId: r.user_id,
        email: r.email,
        grantedAt: r.granted_at,
        grantedBy: r.granted_by,
        viaConfiguration: r.confirmed && this.configured.includes(r.email),
        twoFactorEnabled: r.totp,
      }));
    });
  }

  async grant(ctx: RequestContext, email: string): Promise<PlatformAdmin> {
    const address = lookupEmail(email);
    if (address === null) throw identityError(IdentityErrorCode.INVALID_EMAIL);
    const userId = await withSystem(this.deps.ds, 'grant platform admin', async (em) => {
      const [user]: { id: string }[] = await em.query(`SELECT id FROM identity.users WHERE email = $1`, [address]);
      if (!user) throw identityError(IdentityErrorCode.USER_NOT_FOUND);
      await em.query(
        `INSERT INTO identity.platform_admins (user_id, granted_by) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING`,
        [user.id, ctx.userId],
      );
      return user.id;
    });
    await this.record(ctx, 'super_admin_grant', userId);
    await announceAccountChanged(this.deps, userId);
    return (await this.list()).find((a) => a.userId === userId)!;
  }

  async revoke(ctx: RequestContext, userId: string): Promise<boolean> {
    const admin = isUuid(userId) ? (await this.list()).find((a) => a.userId === userId) : undefined;
    if (!admin) throw identityError(IdentityErrorCode.USER_NOT_FOUND, 'That account is not a Super Admin');
    if (admin.viaConfiguration) throw identityError(IdentityErrorCode.CONFIGURED_SUPER_ADMIN);
    // Their sessions inside other tenants end with the rights that opened them.
    const entered = await withSystem(this.deps.ds, 'revoke platform admin', async (em) => {
      await em.query(`DELETE FROM identity.platform_admins WHERE user_id = $1`, [userId]);
      return returningRows<Session>(
        await em.query(
          `UPDATE identity.sessions SET revoked_at = now(), revoked_reason = 'super_admin_revoked'
            WHERE user_id = $1 AND impersonator_id IS NOT NULL AND revoked_at IS NULL
            RETURNING tenant_id AS "tenantId", id, user_id AS "userId"`,
          [userId],
        ),
      );
    });
    await this.sessions.notifyRevoked(entered);
    await this.record(ctx, 'super_admin_revoke', userId);
    await announceAccountChanged(this.deps, userId);
    return true;
  }

  /**
   * Enters a tenant the Super Admin is not a member of, with admin rights, for one hour: the session and
   * everything done under it are flagged (`act` claim, `impersonatorId` in the tenant's audit log).
   */
  async impersonate(ctx: RequestContext, tenantId: string, reason: string): Promise<AuthPayload> {
    const why = typeof reason === 'string' ? reason.trim() : '';
    if (why.length < 3 || why.length > TEXT_LIMITS.reason) throw identityError(IdentityErrorCode.INVALID_REASON);
    if (ctx.impersonatorId) throw identityError(IdentityErrorCode.INVALID_REASON, 'Leave the tenant you entered first');
    if (!isUuid(tenantId)) throw identityError(IdentityErrorCode.TENANT_NOT_FOUND);
    const userId = ctx.userId!;
    const [known]: { members: number; mine: boolean }[] = await withSystem(
      this.deps.ds,
      `impersonation check by ${userId}`,
      (em) =>
        em.query(
          `SELECT count(*)::int AS members, bool_or(user_id = $2) AS mine FROM identity.memberships WHERE tenant_id = $1`,
          [tenantId, userId],
        ),
    );
    if (!known || known.members === 0) throw identityError(IdentityErrorCode.TENANT_NOT_FOUND);
    if (known.mine)
      throw identityError(IdentityErrorCode.ALREADY_A_MEMBER, 'You are a member of this tenant: use switchTenant');
    const user = await withUser(this.deps.ds, userId, (em) => em.findOneByOrFail(User, { id: userId }));
    const scope = { ...ctx, tenantId, sessionId: null };
    const payload = await withTenant(this.deps.ds, scope, async (em) => {
      await requireLiveSession(em, ctx, { lock: true });
      return this.sessions.open(em, scope, user, tenantId, IMPERSONATION_ROLE, 'impersonation_start', {
        reason: why,
        ttlSeconds: IMPERSONATION_SECONDS,
      });
    });
    await this.record(ctx, 'impersonation_start', `tenant:${tenantId}`, { reason: why });
    return payload;
  }

  /** Reading other tenants' logs is itself recorded, in the reader's tenant. */
  async auditLog(
    ctx: RequestContext,
    filter: PlatformAuditLogFilter | null | undefined,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<AuditEventConnection> {
    const result = await this.audit.listAcrossTenants(filter, first, after);
    await this.record(ctx, 'platform_audit_read', filter?.tenantId ? `tenant:${filter.tenantId}` : 'tenant:*', {
      filter: { ...filter },
    });
    return result;
  }

  private record(
    ctx: RequestContext,
    action: string,
    target: string,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    return withTenant(this.deps.ds, ctx, (em, tenantId) =>
      audit(em, ctx, tenantId, {
        action,
        result: AuditResult.SUCCESS,
        target: target.includes(':') ? target : `user:${target}`,
        details,
      }),
    );
  }
}
