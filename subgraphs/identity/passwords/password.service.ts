import { randomBytes } from 'node:crypto';
import { IsNull, Not, type EntityManager } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withNoTenant, withUser } from '../../../kernel/db/tenant-scope';
import { logger } from '../../../kernel/log';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { auditSeparately } from '../audit/audit.service';
import { AuditResult } from '../audit/audit-event.entity';
import { IdentityErrorCode, identityError } from '../identity.errors';
import { enqueueMail } from '../mail/mail-queue';
import { Session } from '../sessions/session.entity';
import { SessionService, sha256 } from '../sessions/session.service';
import { IdentityMembership } from '../users/membership.entity';
import { User } from '../users/user.entity';
import { burnPasswordCheck, hashPassword, verifyPassword } from './password-hash';
import { LIMITS, clientIp, forgetPasswordChecks, throttle, throttlePasswordCheck } from '../throttle/throttle';
import { PASSWORD_HISTORY, checkPasswordPolicy, requiredPasswordLength } from './password-policy';
import { returningRows } from '../../../kernel/db/values';
import { lookupEmail, mailable } from '../users/email';
import { registrationTagFor, registrationsWithPassword, unlinkRegistrations } from '../auth/registration-tag';
import { requireLiveSession } from '../sessions/live-session';

const RESET_TTL_MINUTES = 30;
const log = logger('identity.passwords');

export class PasswordService {
  private readonly sessions: SessionService;

  constructor(private readonly deps: SubgraphDeps) {
    this.sessions = new SessionService(deps);
  }

  /**
   * Always answers true at once: whether the address has an account shows neither in the answer nor in
   * its timing. The lookup and the e-mail happen after the response.
   */
  requestReset(ctx: RequestContext, email: string): boolean {
    // No account can have it: nothing is sent (and the answer is the same). An account whose address it is gets the
    // mail only at an address mail may go to (see enqueueMail).
    const address = lookupEmail(email);
    if (address !== null)
      setImmediate(
        () => void this.sendResetMail(ctx, address).catch((err) => log.error({ err }, 'password reset request failed')),
      );
    return true;
  }

  private async sendResetMail(ctx: RequestContext, email: string): Promise<void> {
    // Over the limit: nothing is sent (and the answer was already the same).
    const allowed = await throttle(this.deps.ds, [
      [LIMITS.resetPerIp, clientIp(ctx)],
      [LIMITS.resetPerAccount, email],
    ]).then(
      () => true,
      () => false,
    );
    if (!allowed) return;
    const rows: { user_id: string }[] = await withNoTenant(this.deps.ds, (em) =>
      em.query('SELECT user_id FROM identity.credentials_for_login($1)', [email]),
    );
    const userId = rows[0]?.user_id;
    if (!userId) return;
    const token = randomBytes(32).toString('base64url');
    const link = new URL('/reset-password', this.deps.config.mail.APP_URL);
    link.searchParams.set('token', token);
    const tenantId = await withUser(this.deps.ds, userId, async (em) => {
      // To the one address the account holds (never to what was typed).
      const [account]: { email: string; confirmed: boolean }[] = await em.query(
        `SELECT email, email_verified_at IS NOT NULL AS confirmed FROM identity.users WHERE id = $1`,
        [userId],
      );
      // An address kept from before every address was checked may be no mailbox at all: no link is made for it.
      if (!mailable(account.email)) return undefined;
      await em.query(
        `INSERT INTO identity.password_resets (token_hash, user_id, expires_at) VALUES ($1, $2, now() + make_interval(mins => $3))`,
        [sha256(token), userId, RESET_TTL_MINUTES],
      );
      await enqueueMail(em, {
        to: account.email,
        subject: 'Reset your password',
        text: `Someone asked to reset the password of this account.\n\nTo choose a new password, open:\n${link}\n\nThe link works once, for ${RESET_TTL_MINUTES} minutes. If it was not you, ignore this e-mail.\n`,
      });
      // Recorded in a tenant's log only once the account has confirmed the address (as failed sign-ins): otherwise
      // whoever made an account with an address they do not hold could tell there whether it was free.
      if (!account.confirmed) return undefined;
      return (await em.findOne(IdentityMembership, { where: { userId }, order: { createdAt: 'ASC' } }))?.tenantId;
    });
    if (tenantId)
      await auditSeparately(this.deps.ds, { ...ctx, userId: null }, tenantId, {
        action: 'password_reset_requested',
        result: AuditResult.SUCCESS,
        actorId: null,
        target: `user:${userId}`,
      });
  }

  /** Sets a new password with a reset token (once, before it expires) and signs the account out everywhere. */
  async reset(ctx: RequestContext, token: string, newPassword: string): Promise<boolean> {
    await throttle(this.deps.ds, [[LIMITS.resetPerIp, clientIp(ctx)]]);
    const hash = sha256(typeof token === 'string' ? token : '');
    const rows: { user_id: string | null }[] = await withNoTenant(this.deps.ds, (em) =>
      em.query('SELECT identity.password_reset_user($1) AS user_id', [hash]),
    );
    const userId = rows[0]?.user_id;
    if (!userId) throw identityError(IdentityErrorCode.INVALID_TOKEN);
    const { user, minLength } = await withUser(this.deps.ds, userId, async (em) => ({
      user: await em.findOneByOrFail(User, { id: userId }),
      minLength: await requiredPasswordLength(em, userId, null),
    }));
    checkPasswordPolicy(newPassword, user.address, minLength);
    const keepHolderFirst = await this.holderFirst(user, newPassword);
    await this.setPassword(userId, newPassword, async (em) => {
      const used = await em.query(
        `UPDATE identity.password_resets SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL RETURNING user_id`,
        [hash],
      );
      if (returningRows(used).length === 0) throw identityError(IdentityErrorCode.INVALID_TOKEN);
      await keepHolderFirst(em);
    });
    await this.signOutEverywhere(ctx, userId, 'password_reset', null);
    return true;
  }

  /** Changes the password (the current one is required) and signs out every other session. */
  async change(ctx: RequestContext, currentPassword: string, newPassword: string): Promise<boolean> {
    const userId = ctx.userId!;
    await throttlePasswordCheck(this.deps.ds, this.deps.config, ctx);
    const user = await withUser(this.deps.ds, userId, (em) =>
      em
        .getRepository(User)
        .createQueryBuilder('u')
        .addSelect('u.passwordHash')
        .where('u.id = :id', { id: userId })
        .getOneOrFail(),
    );
    if (!(await verifyPassword(user.passwordHash, typeof currentPassword === 'string' ? currentPassword : ''))) {
      await auditSeparately(this.deps.ds, ctx, ctx.tenantId!, {
        action: 'password_change',
        result: AuditResult.FAILURE,
        target: `user:${userId}`,
      });
      throw identityError(IdentityErrorCode.INVALID_CREDENTIALS, 'Current password is incorrect');
    }
    checkPasswordPolicy(
      newPassword,
      user.address,
      await withUser(this.deps.ds, userId, (em) => requiredPasswordLength(em, userId, null)),
    );
    const keepHolderFirst = await this.holderFirst(user, newPassword);
    await this.setPassword(userId, newPassword, async (em) => {
      // A session revoked meanwhile changes nothing (the revocation waits for this transaction, or wins).
      await requireLiveSession(em, ctx, { lock: true });
      await keepHolderFirst(em);
    });
    await this.signOutEverywhere(ctx, userId, 'password_change', ctx.sessionId);
    return true;
  }

  /**
   * What setting `password` changes besides the hash, in the same transaction, so that the account holding an address
   * always wins over registrations that named it: an account made by such a registration is picked at sign-in by
   * its password's tag, and keeps none when the password is the holder's; when the holder sets one, registrations
   * with that same password lose theirs. Either way one password check at most (an account with an unconfirmed
   * address spends one too), so the time taken never tells such a registration whether its address was held.
   */
  private async holderFirst(user: User, password: string): Promise<(em: EntityManager) => Promise<void>> {
    const { ds, keys } = this.deps;
    if (user.registeredEmail !== null) {
      const { tag } = await registrationTagFor(ds, keys, user.registeredEmail, password);
      return async (em) => {
        await em.query(`UPDATE identity.users SET registration_tag = $2 WHERE id = $1`, [user.id, tag]);
      };
    }
    const email = user.email ?? '';
    const same = await registrationsWithPassword(ds, keys, email, password);
    if (!user.emailVerifiedAt) await burnPasswordCheck(password);
    return (em) => unlinkRegistrations(em, email, same);
  }

  /** Refuses any of the last PASSWORD_HISTORY passwords, stores the new hash and its history entry. */
  private async setPassword(
    userId: string,
    password: string,
    inTransaction?: (em: EntityManager) => Promise<void>,
  ): Promise<void> {
    const history: { password_hash: string }[] = await withUser(this.deps.ds, userId, (em) =>
      em.query(
        `SELECT password_hash FROM identity.password_history WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2`,
        [userId, PASSWORD_HISTORY],
      ),
    );
    for (const previous of history) {
      if (await verifyPassword(previous.password_hash, password)) {
        throw identityError(IdentityErrorCode.PASSWORD_REUSED);
      }
    }
    const hash = await hashPassword(password);
    await withUser(this.deps.ds, userId, async (em) => {
      await inTransaction?.(em);
      await em.update(User, { id: userId }, { passwordHash: hash });
      await em.query(`INSERT INTO identity.password_history (user_id, password_hash) VALUES ($1, $2)`, [userId, hash]);
      await em.query(
        `DELETE FROM identity.password_history WHERE user_id = $1 AND created_at NOT IN
           (SELECT created_at FROM identity.password_history WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2)`,
        [userId, PASSWORD_HISTORY],
      );
    });
  }

  private async signOutEverywhere(
    ctx: RequestContext,
    userId: string,
    action: string,
    keepSessionId: string | null,
  ): Promise<void> {
    const revoked = await withUser(this.deps.ds, userId, async (em) => {
      const where = { userId, revokedAt: IsNull(), ...(keepSessionId ? { id: Not(keepSessionId) } : {}) };
      const open = await em.find(Session, { where });
      if (open.length) await em.update(Session, where, { revokedAt: new Date(), revokedReason: action });
      if (!keepSessionId) await forgetPasswordChecks(em, userId);
      const first = await em.findOne(IdentityMembership, { where: { userId }, order: { createdAt: 'ASC' } });
      return { open, tenantId: ctx.tenantId ?? first?.tenantId };
    });
    if (revoked.tenantId) {
      await auditSeparately(this.deps.ds, { ...ctx, userId }, revoked.tenantId, {
        action,
        result: AuditResult.SUCCESS,
        target: `user:${userId}`,
        details: { sessionsRevoked: revoked.open.length },
      });
    }
    await this.sessions.notifyRevoked(revoked.open);
  }
}
