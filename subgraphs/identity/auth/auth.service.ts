import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../../kernel/context';
import { withNoTenant, withTenant, withUser } from '../../../kernel/db/tenant-scope';
import { isUuid } from '../../../kernel/db/values';
import { recordEvent } from '../../../kernel/events';
import { logger } from '../../../kernel/log';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TEXT_LIMITS, cleanName } from '../../../kernel/text';
import { auditSeparately } from '../audit/audit.service';
import { AuditResult } from '../audit/audit-event.entity';
import { IdentityErrorCode, identityError } from '../identity.errors';
import { passwordRefused } from '../policy/security-policy.service';
import { SessionService } from '../sessions/session.service';
import { TotpService } from '../totp/totp.service';
import { EmailVerificationService } from '../verification/email-verification.service';
import { LIMITS, attemptParams, attemptsSql, clientIp, tooManyAttempts } from '../throttle/throttle';
import { IdentityMembership } from '../users/membership.entity';
import { normaliseEmail } from '../users/email';
import { User } from '../users/user.entity';
import type { AuthPayload, LoginInput, RegisterInput } from './auth.inputs';
import { burnPasswordCheck, hashPassword, verifyPassword } from '../passwords/password-hash';
import { checkPasswordPolicy } from '../passwords/password-policy';

const log = logger('identity.auth');

export class AuthService {
  private readonly sessions: SessionService;
  private readonly totp: TotpService;
  private readonly verification: EmailVerificationService;

  constructor(private readonly deps: SubgraphDeps) {
    this.sessions = new SessionService(deps);
    this.totp = new TotpService(deps);
    this.verification = new EmailVerificationService(deps);
  }

  async register(input: RegisterInput, ctx: RequestContext): Promise<AuthPayload> {
    const email = normaliseEmail(input.email);
    checkPasswordPolicy(input.password, email);
    const tenantName = cleanName(input.tenantName ?? '') || `${email.split('@')[0]}'s workspace`;
    if (tenantName.length > TEXT_LIMITS.tenantName) throw identityError(IdentityErrorCode.INVALID_TENANT_NAME);
    const userId = randomUUID();
    const tenantId = randomUUID();
    const passwordHash = await hashPassword(input.password);
    const scope: RequestContext = { ...ctx, tenantId, userId };
    let result: { payload: AuthPayload; provisioning: string };
    try {
      result = await withTenant(this.deps.ds, scope, async (em) => {
        await em.insert(User, em.create(User, { id: userId, email, passwordHash }));
        await em.query(`INSERT INTO identity.password_history (user_id, password_hash) VALUES ($1, $2)`, [userId, passwordHash]);
        await em.insert(IdentityMembership, { tenantId, userId, role: 'owner' });
        const provisioning = await recordEvent(em, 'identity', {
          type: 'identity.tenant_registered',
          tenantId,
          payload: { tenantId, name: tenantName, ownerUserId: userId, ownerEmail: email },
        });
        await this.verification.send(em, userId, email);
        const user = await em.findOneByOrFail(User, { id: userId });
        return { payload: await this.sessions.open(em, scope, user, tenantId, 'owner', 'register'), provisioning };
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw identityError(IdentityErrorCode.EMAIL_TAKEN);
      throw err;
    }
    // Publish the provisioning event now and wait for its consumers (tenancy creates the tenant), so the
    // new tenant is readable in this same operation.
    await this.deps.outbox.deliverNow([result.provisioning]);
    return result.payload;
  }

  /** A new session for the same account in another of its tenants; refused (and audited) for any other tenant. */
  async switchTenant(ctx: RequestContext, tenantId: string): Promise<AuthPayload> {
    if (ctx.authMethod !== 'password') {
      // A session from a tenant's identity provider stays in that tenant: the provider vouches for no other.
      throw identityError(IdentityErrorCode.NOT_A_MEMBER, 'Only a session signed in with a password can switch tenants; use each tenant’s own sign-in');
    }
    const userId = ctx.userId!;
    const membership = isUuid(tenantId)
      ? await withUser(this.deps.ds, userId, (em) => em.findOneBy(IdentityMembership, { tenantId, userId }))
      : null;
    if (!membership) {
      await auditSeparately(this.deps.ds, ctx, ctx.tenantId!, { action: 'tenant_switch', result: AuditResult.FAILURE, target: `tenant:${tenantId}` });
      throw identityError(IdentityErrorCode.NOT_A_MEMBER);
    }
    const scope = { ...ctx, tenantId, sessionId: null };
    return withTenant(this.deps.ds, scope, async (em) => {
      if (await passwordRefused(em, tenantId, membership.role)) throw identityError(IdentityErrorCode.SSO_REQUIRED);
      const user = await em.findOneByOrFail(User, { id: userId });
      return this.sessions.open(em, scope, user, tenantId, membership.role, 'tenant_switch');
    });
  }

  async login(input: LoginInput, ctx: RequestContext): Promise<AuthPayload> {
    const email = (input.email ?? '').trim().toLowerCase();
    const ip = clientIp(ctx);
    // One statement before the password check: count the attempt, and read all sign-in needs of the account.
    const [row]: (SignInCandidate & { wait: number })[] = await withNoTenant(this.deps.ds, (em) =>
      em.query(
        `SELECT w.wait, c.* FROM (${attemptsSql(1)}) w LEFT JOIN identity.sign_in_candidate($4) c ON true`,
        [...attemptParams([
          [{ ...LIMITS.loginPerIp, max: this.deps.config.auth.LOGIN_ATTEMPTS_PER_IP }, ip],
          [{ ...LIMITS.loginPerAccountAndIp, max: this.deps.config.auth.LOGIN_ATTEMPTS_PER_ACCOUNT_IP }, email, ip],
        ]), email],
      ),
    );
    if (row.wait > 0) throw tooManyAttempts(row.wait);
    const found = row.user_id ? row : null;
    const ok = found ? await verifyPassword(found.password_hash, input.password ?? '') : await burnPasswordCheck(input.password ?? '');
    const memberships = found?.memberships ?? [];
    if (!found || !ok) {
      if (found && memberships[0]) {
        await auditSeparately(this.deps.ds, { ...ctx, userId: null }, memberships[0].tenantId, {
          action: 'login_failed',
          result: AuditResult.FAILURE,
          actorId: null,
          target: `user:${found.user_id}`,
        });
      } else log.info({ ip: ctx.client?.ip ?? null }, 'sign-in with an unknown email');
      throw identityError(IdentityErrorCode.INVALID_CREDENTIALS);
    }
    // The tenant asked for, else the one of the custom domain the request came to, else the oldest membership.
    const wanted = input.tenantId ?? ctx.tenantId;
    const membership = wanted ? memberships.find((m) => m.tenantId === wanted) : memberships[0];
    if (!membership) {
      throw identityError(wanted ? IdentityErrorCode.NOT_A_MEMBER : IdentityErrorCode.NO_TENANT);
    }
    if (membership.requireSso && membership.role !== 'owner') {
      await auditSeparately(this.deps.ds, { ...ctx, userId: null }, membership.tenantId, {
        action: 'login_failed',
        result: AuditResult.FAILURE,
        actorId: null,
        target: `user:${found.user_id}`,
        details: { reason: 'sso_required' },
      });
      throw identityError(IdentityErrorCode.SSO_REQUIRED);
    }
    if (found.totp_enabled) throw await this.totp.challenge(found.user_id, membership.tenantId);
    const user = Object.assign(new User(), { id: found.user_id, email: found.email, createdAt: found.created_at, emailVerifiedAt: found.email_verified_at });
    const scope = { ...ctx, tenantId: membership.tenantId, userId: found.user_id };
    return withTenant(this.deps.ds, scope, (em) => this.sessions.open(em, scope, user, membership.tenantId, membership.role, 'login'));
  }
}

/** What `identity.sign_in_candidate` returns about an account (all null when the address has none). */
interface SignInCandidate {
  user_id: string;
  email: string;
  password_hash: string;
  created_at: Date;
  email_verified_at: Date | null;
  totp_enabled: boolean;
  /** requireSso: the tenant's "SSO required" rule (passwords do not sign its members in; owners excepted). */
  memberships: { tenantId: string; role: string; requireSso?: boolean }[];
}
