import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../../kernel/context';
import { withNoTenant, withTenant, withUser } from '../../../kernel/db/tenant-scope';
import { recordEvent } from '../../../kernel/events';
import { logger } from '../../../kernel/log';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { auditSeparately } from '../audit/audit.service';
import { AuditResult } from '../audit/audit-event.entity';
import { IdentityErrorCode, identityError } from '../identity.errors';
import { SessionService } from '../sessions/session.service';
import { TotpService } from '../totp/totp.service';
import { EmailVerificationService } from '../verification/email-verification.service';
import { LIMITS, clientIp, countAttempts, tooManyAttempts } from '../throttle/throttle';
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
    const tenantName = (input.tenantName ?? '').trim() || `${email.split('@')[0]}'s workspace`;
    if (tenantName.length > 100) throw identityError(IdentityErrorCode.INVALID_TENANT_NAME);
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

  async login(input: LoginInput, ctx: RequestContext): Promise<AuthPayload> {
    const email = (input.email ?? '').trim().toLowerCase();
    const ip = clientIp(ctx);
    // One round of database work before the password check: count the attempt, find the account.
    const { wait, found } = await withNoTenant(this.deps.ds, async (em) => ({
      wait: await countAttempts(em, [
        [{ ...LIMITS.loginPerIp, max: this.deps.config.auth.LOGIN_ATTEMPTS_PER_IP }, ip],
        [{ ...LIMITS.loginPerAccountAndIp, max: this.deps.config.auth.LOGIN_ATTEMPTS_PER_ACCOUNT_IP }, email, ip],
      ]),
      found: ((await em.query('SELECT user_id, password_hash FROM identity.credentials_for_login($1)', [email])) as { user_id: string; password_hash: string }[])[0],
    }));
    if (wait > 0) throw tooManyAttempts(wait);
    const ok = found ? await verifyPassword(found.password_hash, input.password ?? '') : await burnPasswordCheck(input.password ?? '');
    const { memberships, secondFactor } = found
      ? await withUser(this.deps.ds, found.user_id, async (em) => ({
          memberships: await em.find(IdentityMembership, { where: { userId: found.user_id }, order: { createdAt: 'ASC' } }),
          secondFactor: await TotpService.isEnabled(em, found.user_id),
        }))
      : { memberships: [], secondFactor: false };
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
    const membership = input.tenantId ? memberships.find((m) => m.tenantId === input.tenantId) : memberships[0];
    if (!membership) {
      throw identityError(input.tenantId ? IdentityErrorCode.NOT_A_MEMBER : IdentityErrorCode.NO_TENANT);
    }
    if (secondFactor) throw await this.totp.challenge(found.user_id, membership.tenantId);
    const scope = { ...ctx, tenantId: membership.tenantId, userId: found.user_id };
    return withTenant(this.deps.ds, scope, async (em) => {
      const user = await em.findOneByOrFail(User, { id: found.user_id });
      return this.sessions.open(em, scope, user, membership.tenantId, membership.role, 'login');
    });
  }
}
