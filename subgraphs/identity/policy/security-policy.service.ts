import type { EntityManager } from 'typeorm';
import { announce } from '../../../kernel/pubsub';
import type { AccessRestriction, RequestContext } from '../../../kernel/context';
import { withTenant, withUser } from '../../../kernel/db/tenant-scope';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { PERMISSIONS_CHANGED_TOPIC } from '../../../kernel/contracts/topics';
import { audit } from '../audit/audit.service';
import { AuditResult } from '../audit/audit-event.entity';
import { IdentityErrorCode, identityError } from '../identity.errors';
import { TenantSecurityPolicy, UnverifiedAccess, type UpdateSecurityPolicyInput } from './security-policy.entity';

export interface Access {
  roles: string[];
  permissions: string[];
}

export interface RestrictedAccess extends Access {
  restrictions: AccessRestriction[];
}

const ownAccount = (p: string) => p.startsWith('account:');
const readOnly = (p: string) => ownAccount(p) || p.endsWith(':read');

const defaults = (tenantId: string): TenantSecurityPolicy =>
  Object.assign(new TenantSecurityPolicy(), {
    tenantId,
    requireTwoFactor: false,
    unverifiedAccess: UnverifiedAccess.FULL,
    passwordMinLength: 8,
    requireSso: false,
    updatedAt: null,
  });

/**
 * A member's rights after the tenant's rules: without the second factor the tenant requires, or with an
 * unconfirmed address where the tenant limits that, only their own account (or reading) remains until
 * they comply. Runs inside a transaction scoped to the tenant.
 */
export async function applySecurityPolicy(
  em: EntityManager,
  tenantId: string,
  userId: string,
  access: Access,
): Promise<RestrictedAccess> {
  const [row]: {
    require_two_factor: boolean | null;
    unverified_access: UnverifiedAccess | null;
    verified: boolean;
    totp: boolean;
  }[] = await em.query(
    `SELECT p.require_two_factor, p.unverified_access, u.email_verified_at IS NOT NULL AS verified, u.totp_enabled_at IS NOT NULL AS totp
       FROM identity.users u LEFT JOIN identity.tenant_security_policies p ON p.tenant_id = $1
      WHERE u.id = $2`,
    [tenantId, userId],
  );
  const restrictions: AccessRestriction[] = [];
  let keep: ((p: string) => boolean) | null = null;
  if (row?.require_two_factor && !row.totp) {
    restrictions.push('TWO_FACTOR_SETUP_REQUIRED');
    keep = ownAccount;
  }
  const unverified = row && !row.verified ? (row.unverified_access ?? UnverifiedAccess.FULL) : UnverifiedAccess.FULL;
  if (unverified !== UnverifiedAccess.FULL) {
    restrictions.push('EMAIL_VERIFICATION_REQUIRED');
    keep ??= unverified === UnverifiedAccess.READ_ONLY ? readOnly : ownAccount;
  }
  return { ...access, permissions: keep ? access.permissions.filter(keep) : access.permissions, restrictions };
}

/** Tells every gateway that an account's rights changed in each of its tenants (e.g. it turned 2FA on). */
export async function announceAccountChanged(deps: SubgraphDeps, userId: string): Promise<void> {
  const rows: { tenant_id: string }[] = await withUser(deps.ds, userId, (em) =>
    em.query(`SELECT tenant_id FROM identity.memberships WHERE user_id = $1`, [userId]),
  );
  await announce(
    deps.pubsub,
    PERMISSIONS_CHANGED_TOPIC,
    rows.map((r) => ({ tenantId: r.tenant_id })),
  );
}

export class SecurityPolicyService {
  constructor(private readonly deps: SubgraphDeps) {}

  static async find(em: EntityManager, tenantId: string): Promise<TenantSecurityPolicy> {
    return (await em.findOneBy(TenantSecurityPolicy, { tenantId })) ?? defaults(tenantId);
  }

  get(ctx: RequestContext): Promise<TenantSecurityPolicy> {
    return withTenant(this.deps.ds, ctx, (em, tenantId) => SecurityPolicyService.find(em, tenantId));
  }

  /** Changes the rules; whoever turns a rule on must already meet it, so no admin locks themselves out. */
  async update(ctx: RequestContext, input: UpdateSecurityPolicyInput): Promise<TenantSecurityPolicy> {
    const policy = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const current = await SecurityPolicyService.find(em, tenantId);
      const next = {
        requireTwoFactor: input.requireTwoFactor ?? current.requireTwoFactor,
        unverifiedAccess: input.unverifiedAccess ?? current.unverifiedAccess,
        passwordMinLength: input.passwordMinLength ?? current.passwordMinLength,
        requireSso: input.requireSso ?? current.requireSso,
      };
      if (!Object.values(UnverifiedAccess).includes(next.unverifiedAccess))
        throw identityError(IdentityErrorCode.INVALID_POLICY);
      if (!Number.isInteger(next.passwordMinLength) || next.passwordMinLength < 8 || next.passwordMinLength > 128) {
        throw identityError(IdentityErrorCode.INVALID_POLICY, 'passwordMinLength must be 8 to 128');
      }
      const [me]: { verified: boolean; totp: boolean }[] = await em.query(
        `SELECT email_verified_at IS NOT NULL AS verified, totp_enabled_at IS NOT NULL AS totp FROM identity.users WHERE id = $1`,
        [ctx.userId],
      );
      if (next.requireTwoFactor && !current.requireTwoFactor && !me?.totp) {
        throw identityError(
          IdentityErrorCode.POLICY_UNMET,
          'Turn on two-factor authentication for yourself before requiring it of every member',
        );
      }
      if (
        next.unverifiedAccess !== UnverifiedAccess.FULL &&
        current.unverifiedAccess === UnverifiedAccess.FULL &&
        !me?.verified
      ) {
        throw identityError(
          IdentityErrorCode.POLICY_UNMET,
          'Confirm your own e-mail address before limiting unconfirmed members',
        );
      }
      if (next.requireSso && !current.requireSso) {
        const [connection]: unknown[] = await em.query(
          `SELECT 1 FROM identity.sso_connections WHERE tenant_id = $1 AND enabled`,
          [tenantId],
        );
        if (!connection)
          throw identityError(IdentityErrorCode.POLICY_UNMET, 'Add an SSO connection before requiring single sign-on');
      }
      await em.upsert(TenantSecurityPolicy, { tenantId, ...next }, ['tenantId']);
      await audit(em, ctx, tenantId, {
        action: 'security_policy_update',
        result: AuditResult.SUCCESS,
        target: `tenant:${tenantId}`,
        details: {
          before: {
            requireTwoFactor: current.requireTwoFactor,
            unverifiedAccess: current.unverifiedAccess,
            passwordMinLength: current.passwordMinLength,
            requireSso: current.requireSso,
          },
          after: next,
        },
      });
      return em.findOneByOrFail(TenantSecurityPolicy, { tenantId });
    });
    await announce(this.deps.pubsub, PERMISSIONS_CHANGED_TOPIC, [{ tenantId: ctx.tenantId! }]);
    return policy;
  }
}

/** Whether the tenant's "SSO required" rule stops this member from using a password session (owners never). */
export async function passwordRefused(em: EntityManager, tenantId: string, role: string): Promise<boolean> {
  if (role === 'owner') return false;
  const [row]: { require_sso: boolean }[] = await em.query(
    `SELECT require_sso FROM identity.tenant_security_policies WHERE tenant_id = $1`,
    [tenantId],
  );
  return row?.require_sso === true;
}
