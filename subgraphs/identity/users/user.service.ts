import { In, IsNull } from 'typeorm';
import { announce } from '../../../kernel/pubsub';
import { hasPermission } from '../../../kernel/auth';
import { recordEvent } from '../../../kernel/events';
import { PERMISSIONS_CHANGED_TOPIC } from '../../../kernel/contracts/topics';
import { audit, auditSeparately } from '../audit/audit.service';
import { AuditResult } from '../audit/audit-event.entity';
import { IdentityErrorCode, identityError } from '../identity.errors';
import { effectiveAccess } from '../rbac/rbac.service';
import { Session } from '../sessions/session.entity';
import { SessionService } from '../sessions/session.service';
import { IdentityMembership } from './membership.entity';
import type { TenantUser } from './tenant-user.types';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { AppError, KernelErrorCode } from '../../../kernel/errors';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { User } from './user.entity';
import { isUuid } from '../../../kernel/db/values';

export class UserService {
  constructor(private readonly deps: SubgraphDeps) {}

  async me(ctx: RequestContext): Promise<User> {
    const user = await withTenant(this.deps.ds, ctx, (em) => em.findOneBy(User, { id: ctx.userId! }));
    if (!user) throw new AppError(KernelErrorCode.NOT_FOUND, 'Account not found');
    return user;
  }

  /** Members of the caller's tenant with their effective roles and permissions. */
  async members(ctx: RequestContext): Promise<TenantUser[]> {
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const memberships = await em.find(IdentityMembership, { where: { tenantId }, order: { createdAt: 'ASC' } });
      const users = await em.findBy(User, { id: In(memberships.map((m) => m.userId)) });
      const byId = new Map(users.map((u) => [u.id, u]));
      const out: TenantUser[] = [];
      for (const m of memberships) {
        const access = await effectiveAccess(em, tenantId, m.userId);
        const user = byId.get(m.userId);
        if (user && access)
          out.push({ user, role: m.role, roles: access.roles, permissions: access.permissions, joinedAt: m.createdAt });
      }
      return out;
    });
  }

  /** Removes a member from the tenant: their sessions there end, their rights there go. */
  async remove(ctx: RequestContext, userId: string): Promise<boolean> {
    if (userId === ctx.userId)
      throw identityError(IdentityErrorCode.PERMISSION_ESCALATION, 'You cannot remove yourself; ask another admin');
    const outcome = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const member = isUuid(userId) ? await em.findOneBy(IdentityMembership, { tenantId, userId }) : null;
      if (!member) return null;
      if (member.role === 'owner' && !ctx.roles.includes('owner')) return 'owner' as const;
      const theirs = (await effectiveAccess(em, tenantId, userId))?.permissions ?? [];
      if (theirs.some((p) => !hasPermission(ctx, p))) return 'owner' as const;
      await em.delete(IdentityMembership, { tenantId, userId });
      await em.query(`DELETE FROM identity.user_roles WHERE tenant_id = $1 AND user_id = $2`, [tenantId, userId]);
      await em.query(`DELETE FROM identity.group_members WHERE tenant_id = $1 AND user_id = $2`, [tenantId, userId]);
      const sessions = await em.find(Session, { where: { tenantId, userId, revokedAt: IsNull() } });
      if (sessions.length)
        await em.update(
          Session,
          { tenantId, userId, revokedAt: IsNull() },
          { revokedAt: new Date(), revokedReason: 'removed' },
        );
      const event = await recordEvent(em, 'identity', {
        type: 'identity.member_removed',
        tenantId,
        payload: { tenantId, userId },
      });
      await audit(em, ctx, tenantId, {
        action: 'member_remove',
        result: AuditResult.SUCCESS,
        target: `user:${userId}`,
      });
      return { sessions, event };
    });
    if (outcome === null)
      throw identityError(IdentityErrorCode.NOT_A_MEMBER, 'That account is not a member of this tenant');
    if (outcome === 'owner') {
      await auditSeparately(this.deps.ds, ctx, ctx.tenantId!, {
        action: 'member_remove',
        result: AuditResult.FAILURE,
        target: `user:${userId}`,
      });
      throw identityError(IdentityErrorCode.PERMISSION_ESCALATION, 'You cannot remove someone with rights you lack');
    }
    await new SessionService(this.deps).notifyRevoked(outcome.sessions);
    await announce(this.deps.pubsub, PERMISSIONS_CHANGED_TOPIC, [{ tenantId: ctx.tenantId! }]);
    await this.deps.outbox.deliverNow([outcome.event]);
    return true;
  }

  /** Users visible in the caller's tenant (RLS: fellow members only), in the order asked. */
  async byIds(ctx: RequestContext, ids: readonly string[]): Promise<(User | null)[]> {
    const users = await withTenant(this.deps.ds, ctx, (em) => em.findBy(User, { id: In([...ids]) }));
    const byId = new Map(users.map((u) => [u.id, u]));
    return ids.map((id) => byId.get(id) ?? null);
  }
}
