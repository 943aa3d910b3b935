import { randomBytes } from 'node:crypto';
import { authenticator } from 'otplib';
import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withNoTenant, withTenant, withUser } from '../../../kernel/db/tenant-scope';
import { AppError } from '../../../kernel/errors';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { auditSeparately } from '../audit/audit.service';
import { AuditResult } from '../audit/audit-event.entity';
import { IdentityErrorCode, identityError } from '../identity.errors';
import { verifyPassword } from '../passwords/password-hash';
import { SessionService, sha256 } from '../sessions/session.service';
import type { AuthPayload } from '../auth/auth.inputs';
import { IdentityMembership } from '../users/membership.entity';
import { User } from '../users/user.entity';
import type { TotpActivation, TotpEnrollment } from './totp.types';
import { LIMITS, clientIp, throttle, throttlePasswordCheck } from '../throttle/throttle';
import { returningRows } from '../../../kernel/db/values';
import { SecurityPolicyService, announceAccountChanged } from '../policy/security-policy.service';
import { requireLiveSession } from '../sessions/live-session';

const STEP_SECONDS = 30;
const CHALLENGE_TTL_MINUTES = 5;
authenticator.options = { window: 1, step: STEP_SECONDS };

interface TotpState {
  email: string;
  passwordHash: string;
  totpSecret: string | null;
  totpPendingSecret: string | null;
  totpEnabledAt: Date | null;
  totpLastStep: number;
}

/** RFC 6238 authenticator codes as a second factor, with single-use backup codes. */
export class TotpService {
  private readonly sessions: SessionService;

  constructor(private readonly deps: SubgraphDeps) {
    this.sessions = new SessionService(deps);
  }

  private async state(em: EntityManager, userId: string): Promise<TotpState> {
    const rows: {
      email: string;
      password_hash: string;
      totp_secret: string | null;
      totp_pending_secret: string | null;
      totp_enabled_at: Date | null;
      totp_last_step: string;
    }[] = await em.query(
      `SELECT coalesce(email, registered_email) AS email, password_hash, totp_secret, totp_pending_secret, totp_enabled_at, totp_last_step FROM identity.users WHERE id = $1 FOR UPDATE`,
      [userId],
    );
    const r = rows[0];
    return {
      email: r.email,
      passwordHash: r.password_hash,
      totpSecret: r.totp_secret,
      totpPendingSecret: r.totp_pending_secret,
      totpEnabledAt: r.totp_enabled_at,
      totpLastStep: Number(r.totp_last_step),
    };
  }

  /** Whether the account signs in with a second factor (in the caller's transaction). */
  static async isEnabled(em: EntityManager, userId: string): Promise<boolean> {
    const rows: { on: boolean }[] = await em.query(
      'SELECT totp_enabled_at IS NOT NULL AS on FROM identity.users WHERE id = $1',
      [userId],
    );
    return rows[0]?.on === true;
  }

  async enroll(ctx: RequestContext): Promise<TotpEnrollment> {
    const userId = ctx.userId!;
    return withUser(this.deps.ds, userId, async (em) => {
      await requireLiveSession(em, ctx, { lock: true });
      const state = await this.state(em, userId);
      if (state.totpEnabledAt) throw identityError(IdentityErrorCode.TOTP_ALREADY_ENABLED);
      const secret = authenticator.generateSecret(20);
      await em.query(`UPDATE identity.users SET totp_pending_secret = $2 WHERE id = $1`, [userId, secret]);
      return { secret, otpauthUri: authenticator.keyuri(state.email, 'Nexus Platform', secret) };
    });
  }

  async confirm(ctx: RequestContext, code: string): Promise<TotpActivation> {
    const userId = ctx.userId!;
    const codes = Array.from({ length: 10 }, () => randomBytes(5).toString('hex'));
    const ok = await withUser(this.deps.ds, userId, async (em) => {
      await requireLiveSession(em, ctx, { lock: true });
      const state = await this.state(em, userId);
      if (state.totpEnabledAt) throw identityError(IdentityErrorCode.TOTP_ALREADY_ENABLED);
      if (!state.totpPendingSecret) throw identityError(IdentityErrorCode.TOTP_NOT_ENROLLED);
      const step = this.acceptedStep(code, state.totpPendingSecret, 0);
      if (step === null) return false;
      await em.query(
        `UPDATE identity.users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_enabled_at = now(), totp_last_step = $2 WHERE id = $1`,
        [userId, step],
      );
      await em.query(`DELETE FROM identity.backup_codes WHERE user_id = $1`, [userId]);
      for (const c of codes)
        await em.query(`INSERT INTO identity.backup_codes (user_id, code_hash) VALUES ($1, $2)`, [userId, sha256(c)]);
      return true;
    });
    await auditSeparately(this.deps.ds, ctx, ctx.tenantId!, {
      action: 'totp_enable',
      result: ok ? AuditResult.SUCCESS : AuditResult.FAILURE,
      target: `user:${userId}`,
    });
    if (!ok) throw identityError(IdentityErrorCode.INVALID_TOTP_CODE);
    await announceAccountChanged(this.deps, userId);
    return { backupCodes: codes };
  }

  /** Turning the second factor off needs the password and a code (re-authentication). */
  async disable(ctx: RequestContext, password: string, code: string): Promise<boolean> {
    const userId = ctx.userId!;
    const policy = await withTenant(this.deps.ds, ctx, (em, tenantId) => SecurityPolicyService.find(em, tenantId));
    if (policy.requireTwoFactor) throw identityError(IdentityErrorCode.TWO_FACTOR_MANDATORY);
    await throttlePasswordCheck(this.deps.ds, this.deps.config, ctx);
    const ok = await withUser(this.deps.ds, userId, async (em) => {
      await requireLiveSession(em, ctx, { lock: true });
      const state = await this.state(em, userId);
      if (!state.totpEnabledAt) throw identityError(IdentityErrorCode.TOTP_NOT_ENROLLED);
      if (!(await verifyPassword(state.passwordHash, typeof password === 'string' ? password : ''))) return false;
      if (!(await this.useCode(em, userId, state, code))) return false;
      await em.query(
        `UPDATE identity.users SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL WHERE id = $1`,
        [userId],
      );
      await em.query(`DELETE FROM identity.backup_codes WHERE user_id = $1`, [userId]);
      return true;
    });
    await auditSeparately(this.deps.ds, ctx, ctx.tenantId!, {
      action: 'totp_disable',
      result: ok ? AuditResult.SUCCESS : AuditResult.FAILURE,
      target: `user:${userId}`,
    });
    if (!ok) throw identityError(IdentityErrorCode.INVALID_CREDENTIALS, 'Password or code is incorrect');
    await announceAccountChanged(this.deps, userId);
    return true;
  }

  /** First step of a sign-in with a second factor: the error carries a short-lived challenge token. */
  async challenge(userId: string, tenantId: string): Promise<AppError> {
    const token = randomBytes(32).toString('base64url');
    await withUser(this.deps.ds, userId, (em) =>
      em.query(
        `INSERT INTO identity.login_challenges (token_hash, user_id, tenant_id, expires_at) VALUES ($1, $2, $3, now() + make_interval(mins => $4))`,
        [sha256(token), userId, tenantId, CHALLENGE_TTL_MINUTES],
      ),
    );
    return new AppError(IdentityErrorCode.TWO_FACTOR_REQUIRED, 'Enter a code from your authenticator app', {
      challengeToken: token,
    });
  }

  /** Second step: a current code (never one already used) or an unused backup code opens the session. */
  async verifyChallenge(ctx: RequestContext, challengeToken: string, code: string): Promise<AuthPayload> {
    await throttle(this.deps.ds, [[LIMITS.secondFactorPerIp, clientIp(ctx)]]);
    const hash = sha256(typeof challengeToken === 'string' ? challengeToken : '');
    const rows: { user_id: string | null }[] = await withNoTenant(this.deps.ds, (em) =>
      em.query('SELECT identity.login_challenge_user($1) AS user_id', [hash]),
    );
    const userId = rows[0]?.user_id;
    if (!userId) throw identityError(IdentityErrorCode.INVALID_TOKEN);
    const outcome = await withUser(this.deps.ds, userId, async (em) => {
      const [challenge]: { tenant_id: string }[] = await em
        .query(
          `UPDATE identity.login_challenges SET attempts = attempts + 1 WHERE token_hash = $1 AND used_at IS NULL RETURNING tenant_id`,
          [hash],
        )
        .then((r) => returningRows<{ tenant_id: string }>(r));
      if (!challenge) return null;
      const state = await this.state(em, userId);
      if (!(await this.useCode(em, userId, state, code))) return { tenantId: challenge.tenant_id, ok: false };
      await em.query(`UPDATE identity.login_challenges SET used_at = now() WHERE token_hash = $1`, [hash]);
      return { tenantId: challenge.tenant_id, ok: true };
    });
    if (!outcome) throw identityError(IdentityErrorCode.INVALID_TOKEN);
    if (!outcome.ok) {
      await auditSeparately(this.deps.ds, { ...ctx, userId: null }, outcome.tenantId, {
        action: 'login_2fa_failed',
        result: AuditResult.FAILURE,
        actorId: null,
        target: `user:${userId}`,
      });
      throw identityError(IdentityErrorCode.INVALID_TOTP_CODE);
    }
    const scope = { ...ctx, tenantId: outcome.tenantId, userId };
    return withTenant(this.deps.ds, scope, async (em) => {
      const membership = await em.findOneByOrFail(IdentityMembership, { tenantId: outcome.tenantId, userId });
      const user = await em.findOneByOrFail(User, { id: userId });
      return this.sessions.open(em, scope, user, outcome.tenantId, membership.role, 'login');
    });
  }

  /** Accepts a TOTP code once (its time step must be newer than the last one used) or a backup code once. */
  private async useCode(em: EntityManager, userId: string, state: TotpState, code: string): Promise<boolean> {
    const value = typeof code === 'string' ? code.replace(/\s+/g, '') : '';
    if (/^\d{6}$/.test(value) && state.totpSecret) {
      const step = this.acceptedStep(value, state.totpSecret, state.totpLastStep);
      if (step === null) return false;
      await em.query(`UPDATE identity.users SET totp_last_step = $2 WHERE id = $1`, [userId, step]);
      return true;
    }
    if (/^[0-9a-f]{10}$/i.test(value)) {
      const used = await em.query(
        `UPDATE identity.backup_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING code_hash`,
        [userId, sha256(value.toLowerCase())],
      );
      return returningRows(used).length > 0;
    }
    return false;
  }

  /** The time step a code belongs to, if valid (±1 step) and newer than `after`; otherwise null. */
  private acceptedStep(code: string, secret: string, after: number): number | null {
    const value = typeof code === 'string' ? code.replace(/\s+/g, '') : '';
    if (!/^\d{6}$/.test(value)) return null;
    const delta = authenticator.checkDelta(value, secret);
    if (delta === null) return null;
    const step = Math.floor(Date.now() / 1000 / STEP_SECONDS) + delta;
    return step > after ? step : null;
  }
}
