import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
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
import {
  LIMITS,
  attemptParams,
  attemptsSql,
  clientIp,
  countAttempts,
  throttle,
  tooManyAttempts,
} from '../throttle/throttle';
import { enqueueMail } from '../mail/mail-queue';
import { registrationTag, registrationTagFor } from './registration-tag';
import { IdentityMembership } from '../users/membership.entity';
import { lookupEmail, normaliseEmail } from '../users/email';
import { User } from '../users/user.entity';
import type { AuthPayload, LoginInput, RegisterInput } from './auth.inputs';
import { burnPasswordCheck, hashPassword, verifyPassword } from '../passwords/password-hash';
import { checkPasswordPolicy } from '../passwords/password-policy';
import { requireLiveSession } from '../sessions/live-session';

const log = logger('identity.auth');

/** Subject of the mail an address's owner gets when a registration names their address. */
const REGISTERED_AGAIN_SUBJECT = 'Someone signed up with your e-mail address';

export class AuthService {
  private readonly sessions: SessionService;
  private readonly totp: TotpService;
  private readonly verification: EmailVerificationService;

  constructor(private readonly deps: SubgraphDeps) {
    this.sessions = new SessionService(deps);
    this.totp = new TotpService(deps);
    this.verification = new EmailVerificationService(deps);
  }

  /**
   * A new account and a tenant it owns, signed in. The answer never tells whether the address already had an
   * account: if it had, the new account does not get the address (that account keeps it, and only it is ever
   * found or mailed by it) — it shows its owner the address it named and signs in with it and its own password,
   * but it is never confirmed; the address's owner is told by mail instead of being sent a confirmation link.
   * The holder always wins: a registration giving the holder's own password is made all the same, but no password
   * reaches it (that password keeps signing in the holder). One password check either way.
   */
  async register(input: RegisterInput, ctx: RequestContext): Promise<AuthPayload> {
    await throttle(this.deps.ds, [
      [{ ...LIMITS.registerPerIp, max: this.deps.config.auth.REGISTER_ATTEMPTS_PER_IP }, clientIp(ctx)],
    ]);
    const email = normaliseEmail(input.email);
    checkPasswordPolicy(input.password, email);
    const tenantName = cleanName(input.tenantName ?? '') || `${email.split('@')[0]}'s workspace`;
    if (tenantName.length > TEXT_LIMITS.tenantName) throw identityError(IdentityErrorCode.INVALID_TENANT_NAME);
    const userId = randomUUID();
    const tenantId = randomUUID();
    const passwordHash = await hashPassword(input.password);
    let holder = await registrationTagFor(this.deps.ds, this.deps.keys, email, input.password);
    const scope: RequestContext = { ...ctx, tenantId, userId };
    const attempt = () =>
      withTenant(this.deps.ds, scope, async (em) => {
        const [{ held }]: { held: boolean }[] = await em.query(
          `SELECT EXISTS (SELECT 1 FROM identity.credentials_for_login($1)) AS held`,
          [email],
        );
        // Taken since it was checked: checked again (against the new holder's password), then made again.
        if (held && !holder.held) throw new AddressTakenMeanwhile();
        await em.insert(
          User,
          em.create(
            User,
            held
              ? { id: userId, email: null, registeredEmail: email, registrationTag: holder.tag, passwordHash }
              : { id: userId, email, passwordHash },
          ),
        );
        await em.query(`INSERT INTO identity.password_history (user_id, password_hash) VALUES ($1, $2)`, [
          userId,
          passwordHash,
        ]);
        await em.insert(IdentityMembership, { tenantId, userId, role: 'owner' });
        const provisioning = await recordEvent(em, 'identity', {
          type: 'identity.tenant_registered',
          tenantId,
          payload: { tenantId, name: tenantName, ownerUserId: userId, ownerEmail: email },
        });
        if (held) await this.tellOwner(em, email);
        else await this.verification.send(em, userId, email);
        const user = await em.findOneByOrFail(User, { id: userId });
        return { payload: await this.sessions.open(em, scope, user, tenantId, 'owner', 'register'), provisioning };
      });
    // Someone took the address between the check and the insert: the same registration again, now as one for a held address.
    const result = await attempt().catch(async (err: { code?: string }) => {
      if (err?.code !== '23505' && !(err instanceof AddressTakenMeanwhile)) throw err;
      holder = await registrationTagFor(this.deps.ds, this.deps.keys, email, input.password);
      return attempt();
    });
    // Publish the provisioning event now and wait for its consumers (tenancy creates the tenant), so the
    // new tenant is readable in this same operation.
    await this.deps.outbox.deliverNow([result.provisioning]);
    return result.payload;
  }

  /** Tells an address's owner that a registration named it (a few times an hour at most), in the caller's transaction. */
  private async tellOwner(em: EntityManager, email: string): Promise<void> {
    if ((await countAttempts(em, [[LIMITS.registerNoticePerAddress, email]])) > 0) return;
    await enqueueMail(em, {
      to: email,
      subject: REGISTERED_AGAIN_SUBJECT,
      text:
        `Someone just signed up for Nexus Platform with this address, which already belongs to your account.\n\n` +
        `Your account and its workspaces are unchanged, and the address stays yours: mail, password resets and the ` +
        `address's confirmation concern your account alone, and your password keeps signing in your account. The new ` +
        `account has a workspace of its own; it signs in with this address only with a different password of its own, ` +
        `and can never confirm the address nor reset its password through it.\n\nIf it was you, sign in to your ` +
        `existing account at ${this.deps.config.mail.APP_URL} (if you forgot its password, ask for a reset there). If ` +
        `it was not you, there is nothing to do.\n`,
    });
  }

  /** A new session for the same account in another of its tenants; refused (and audited) for any other tenant. */
  async switchTenant(ctx: RequestContext, tenantId: string): Promise<AuthPayload> {
    if (ctx.authMethod !== 'password') {
      // A session from a tenant's identity provider stays in that tenant: the provider vouches for no other.
      throw identityError(
        IdentityErrorCode.NOT_A_MEMBER,
        'Only a session signed in with a password can switch tenants; use each tenant’s own sign-in',
      );
    }
    const userId = ctx.userId!;
    const membership = isUuid(tenantId)
      ? await withUser(this.deps.ds, userId, (em) => em.findOneBy(IdentityMembership, { tenantId, userId }))
      : null;
    if (!membership) {
      await auditSeparately(this.deps.ds, ctx, ctx.tenantId!, {
        action: 'tenant_switch',
        result: AuditResult.FAILURE,
        target: `tenant:${tenantId}`,
      });
      throw identityError(IdentityErrorCode.NOT_A_MEMBER);
    }
    const scope = { ...ctx, tenantId, sessionId: null };
    return withTenant(this.deps.ds, scope, async (em) => {
      await requireLiveSession(em, ctx, { lock: true });
      if (await passwordRefused(em, tenantId, membership.role)) throw identityError(IdentityErrorCode.SSO_REQUIRED);
      const user = await em.findOneByOrFail(User, { id: userId });
      return this.sessions.open(em, scope, user, tenantId, membership.role, 'tenant_switch');
    });
  }

  async login(input: LoginInput, ctx: RequestContext): Promise<AuthPayload> {
    // Counted under what was typed (any spelling of a non-address counts too); looked up only when it is an address.
    const typed = (typeof input.email === 'string' ? input.email : '').trim().toLowerCase();
    const email = lookupEmail(typed);
    const password = typeof input.password === 'string' ? input.password : '';
    const candidates = await this.signInCandidates(typed, email, password, clientIp(ctx));
    const found = await this.passwordHolder(ctx, candidates, password);
    const membership = await this.signInMembership(input, ctx, found);
    if (found.totp_enabled) throw await this.totp.challenge(found.user_id, membership.tenantId);
    const user = Object.assign(new User(), {
      id: found.user_id,
      email: found.email,
      registeredEmail: found.registered_email,
      createdAt: found.created_at,
      emailVerifiedAt: found.email_verified_at,
    });
    const scope = { ...ctx, tenantId: membership.tenantId, userId: found.user_id };
    return withTenant(this.deps.ds, scope, (em) =>
      this.sessions.open(em, scope, user, membership.tenantId, membership.role, 'login'),
    );
  }

  /** Counts the attempt (TOO_MANY_ATTEMPTS past the limits) and returns the accounts the password may sign in. */
  private async signInCandidates(
    typed: string,
    email: string | null,
    password: string,
    ip: string,
  ): Promise<SignInCandidate[]> {
    // One statement before the password check: count the attempt, and read all sign-in needs of the account — the
    // one holding the address, and first the account a registration that named it made for this password, if any.
    const rows: (SignInCandidate & { wait: number })[] = await withNoTenant(this.deps.ds, (em) =>
      em.query(`SELECT w.wait, c.* FROM (${attemptsSql(1)}) w LEFT JOIN identity.sign_in_candidate($4, $5) c ON true`, [
        ...attemptParams([
          [{ ...LIMITS.loginPerIp, max: this.deps.config.auth.LOGIN_ATTEMPTS_PER_IP }, ip],
          [{ ...LIMITS.loginPerAccountAndIp, max: this.deps.config.auth.LOGIN_ATTEMPTS_PER_ACCOUNT_IP }, typed, ip],
        ]),
        email,
        email === null ? null : registrationTag(this.deps.keys, email, password),
      ]),
    );
    if (rows[0].wait > 0) throw tooManyAttempts(rows[0].wait);
    return rows.filter((r) => r.user_id);
  }

  /** The account `password` signs in, or the refusal (INVALID_CREDENTIALS). */
  private async passwordHolder(
    ctx: RequestContext,
    candidates: SignInCandidate[],
    password: string,
  ): Promise<SignInCandidate> {
    // One password check (two only when a tag matched by chance, one time in 65,536), or the same time spent for none.
    // The holder's password is never the password of a registration with a tag (see registration-tag.ts): it signs in
    // the holder, whichever is checked first.
    let found: SignInCandidate | null = null;
    for (const candidate of candidates) {
      if (await verifyPassword(candidate.password_hash, password)) {
        found = candidate;
        break;
      }
    }
    if (candidates.length === 0) await burnPasswordCheck(password);
    const ok = found !== null;
    found ??= candidates.at(-1) ?? null;
    if (!found || !ok) return this.refuseSignIn(ctx, found);
    return found;
  }

  /** The membership the sign-in opens (asked for, else the request's tenant, else the oldest), if passwords may. */
  private async signInMembership(
    input: LoginInput,
    ctx: RequestContext,
    found: SignInCandidate,
  ): Promise<SignInCandidate['memberships'][number]> {
    const memberships = found.memberships ?? [];
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
    return membership;
  }

  /** Refuses a sign-in whose password matched no account (INVALID_CREDENTIALS), logged where it may be. */
  private async refuseSignIn(ctx: RequestContext, found: SignInCandidate | null): Promise<never> {
    const memberships = found?.memberships ?? [];
    // In a tenant's log only when the account has confirmed the address: otherwise whoever made an account with an
    // address they do not hold could read in their own tenant's log whether a failed sign-in reached it (the
    // address was free) or another account (it was taken). The platform's log keeps every one.
    if (found && found.email_verified_at && memberships[0]) {
      await auditSeparately(this.deps.ds, { ...ctx, userId: null }, memberships[0].tenantId, {
        action: 'login_failed',
        result: AuditResult.FAILURE,
        actorId: null,
        target: `user:${found.user_id}`,
      });
    } else
      log.info(
        { ip: ctx.client?.ip ?? null, userId: found?.user_id ?? null },
        found ? 'failed sign-in of an account with an unconfirmed address' : 'sign-in with an unknown email',
      );
    throw identityError(IdentityErrorCode.INVALID_CREDENTIALS);
  }
}

/** The address was taken between a registration's check and its insert. */
class AddressTakenMeanwhile extends Error {}

/** What `identity.sign_in_candidate` returns about an account (all null when the address has none). */
interface SignInCandidate {
  user_id: string;
  /** The address the account holds; null for one made by a registration that named an address another account holds. */
  email: string | null;
  /** The address such a registration named. */
  registered_email: string | null;
  password_hash: string;
  created_at: Date;
  email_verified_at: Date | null;
  totp_enabled: boolean;
  /** requireSso: the tenant's "SSO required" rule (passwords do not sign its members in; owners excepted). */
  memberships: { tenantId: string; role: string; requireSso?: boolean }[];
}
