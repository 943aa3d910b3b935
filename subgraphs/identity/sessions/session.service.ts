import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { IsNull, type EntityManager } from 'typeorm';
import { signAccessToken } from '../../../kernel/access-token';
import { currentRequestState, type RequestContext } from '../../../kernel/context';
import { ISSUED_SESSION_EXTENSION } from '../../../kernel/context-token';
import { withNoTenant, withSystem, withTenant, withUser } from '../../../kernel/db/tenant-scope';
import { announce } from '../../../kernel/pubsub';
import {
  REVOCATION_OVERLAP_SECONDS,
  REVOCATIONS_PAGE_SIZE,
  type RevocationsQuery,
  type RevocationsPage,
} from '../../../kernel/session-revocations';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { SESSION_REVOKED_TOPIC } from '../../../kernel/contracts/topics';
import { audit, auditSeparately } from '../audit/audit.service';
import { AuditResult } from '../audit/audit-event.entity';
import type { AuthPayload } from '../auth/auth.inputs';
import { IdentityErrorCode, identityError } from '../identity.errors';
import { passwordRefused } from '../policy/security-policy.service';
import { permissionsFor } from '../rbac/permissions';
import { IdentityMembership } from '../users/membership.entity';
import { User } from '../users/user.entity';
import { RefreshToken, Session } from './session.entity';
import type { SessionInfo } from './session.types';
import { isUuid } from '../../../kernel/db/values';
import { forgetPasswordChecks } from '../throttle/throttle';

/** A timestamp as ISO 8601 in UTC to the microsecond (what PostgreSQL keeps), so a cursor loses nothing. */
const UTC_MICROS = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** The system role a Super Admin acts with in a tenant they entered without being a member. */
export const IMPERSONATION_ROLE = 'admin';

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function newRefreshToken(): string {
  return `nxr_${randomBytes(32).toString('base64url')}`;
}

/**
 * Sessions: one per sign-in per tenant. Access tokens are short-lived JWTs; refresh tokens are opaque,
 * stored hashed, and rotated on every use. Presenting a refresh token that was already exchanged
 * revokes its whole session (the family), and every gateway drops that session at once.
 */
export class SessionService {
  constructor(private readonly deps: SubgraphDeps) {}

  /**
   * Opens a session inside the caller's transaction and returns the tokens for it. With `impersonation`,
   * a Super Admin's short session in a tenant they do not belong to, flagged in its tokens (`act`).
   */
  async open(
    em: EntityManager,
    ctx: RequestContext,
    user: User,
    tenantId: string,
    role: string,
    action: string,
    impersonation?: { reason: string; ttlSeconds: number },
    authMethod: 'password' | 'sso' = 'password',
  ): Promise<AuthPayload> {
    const sessionId = randomUUID();
    const refreshToken = newRefreshToken();
    // The session and its first refresh token in one statement (sign-in is on the hot path).
    await em.query(
      `WITH s AS (
         INSERT INTO identity.sessions (tenant_id, id, user_id, last_used_at, expires_at, user_agent, ip, impersonator_id, impersonation_reason, auth_method)
         VALUES ($1, $2, $3, now(), now() + make_interval(secs => $4), $5, $6, $8, $9, $10) RETURNING tenant_id, id)
       INSERT INTO identity.refresh_tokens (tenant_id, token_hash, session_id) SELECT s.tenant_id, $7, s.id FROM s`,
      [
        tenantId,
        sessionId,
        user.id,
        impersonation?.ttlSeconds ?? this.deps.config.auth.REFRESH_TOKEN_TTL_SECONDS,
        ctx.client?.userAgent ?? null,
        ctx.client?.ip ?? null,
        sha256(refreshToken),
        impersonation ? user.id : null,
        impersonation?.reason ?? null,
        authMethod,
      ],
    );
    const details = impersonation ? { reason: impersonation.reason } : undefined;
    await audit(em, { ...ctx, impersonatorId: impersonation ? user.id : null }, tenantId, {
      action,
      result: AuditResult.SUCCESS,
      actorId: user.id,
      target: `session:${sessionId}`,
      details,
    });
    const accessToken = await this.accessToken(
      user.id,
      tenantId,
      sessionId,
      [role],
      impersonation ? user.id : null,
      authMethod,
    );
    return { accessToken, refreshToken, user: Object.assign(user, { viewedBySelf: true }), tenant: { id: tenantId } };
  }

  private async accessToken(
    userId: string,
    tenantId: string,
    sessionId: string,
    roles: string[],
    impersonatorId: string | null = null,
    amr: 'password' | 'sso' = 'password',
  ): Promise<string> {
    const { config, keys } = this.deps;
    const token = await signAccessToken(
      {
        sub: userId,
        tid: tenantId,
        sid: sessionId,
        roles,
        perms: permissionsFor(roles),
        amr,
        ...(impersonatorId ? { act: { sub: impersonatorId } } : {}),
      },
      keys.access,
      {
        issuer: config.auth.JWT_ISSUER,
        audience: config.auth.JWT_AUDIENCE,
        ttlSeconds: config.auth.ACCESS_TOKEN_TTL_SECONDS,
      },
    );
    // Lets the gateway resolve the rest of this operation (e.g. `tenant { name }`) as the new session.
    currentRequestState().responseExtensions[ISSUED_SESSION_EXTENSION] = token;
    return token;
  }

  /** Exchanges a refresh token for new tokens of the same session (the old refresh token dies). */
  async refresh(ctx: RequestContext, refreshToken: string): Promise<AuthPayload> {
    const hash = sha256(typeof refreshToken === 'string' ? refreshToken : '');
    const rows: { tenant_id: string | null }[] = await withNoTenant(this.deps.ds, (em) =>
      em.query('SELECT identity.refresh_token_tenant($1) AS tenant_id', [hash]),
    );
    const tenantId = rows[0]?.tenant_id;
    if (!tenantId) throw identityError(IdentityErrorCode.INVALID_REFRESH_TOKEN);
    const scope = { ...ctx, tenantId, userId: null };
    const outcome = await withTenant(this.deps.ds, scope, (em) => this.rotate(em, ctx, tenantId, hash));
    if (outcome.kind === 'reused') {
      await this.notifyRevoked([outcome.session]);
      throw identityError(IdentityErrorCode.REFRESH_TOKEN_REUSED);
    }
    if (outcome.kind === 'invalid') throw identityError(IdentityErrorCode.INVALID_REFRESH_TOKEN);
    if (outcome.kind === 'sso_required') throw identityError(IdentityErrorCode.SSO_REQUIRED);
    const accessToken = await this.accessToken(
      outcome.user.id,
      tenantId,
      outcome.session.id,
      [outcome.role],
      outcome.session.impersonatorId,
      outcome.session.authMethod,
    );
    return {
      accessToken,
      refreshToken: outcome.next,
      user: Object.assign(outcome.user, { viewedBySelf: true }),
      tenant: { id: tenantId },
    };
  }

  /** In the tenant's transaction: the refresh token (hash `hash`) checked, used up and replaced by the next one. */
  private async rotate(em: EntityManager, ctx: RequestContext, tenantId: string, hash: string) {
    const token = await em.findOne(RefreshToken, {
      where: { tenantId, tokenHash: hash },
      lock: { mode: 'pessimistic_write' },
    });
    const session =
      token &&
      (await em.findOne(Session, { where: { tenantId, id: token.sessionId }, lock: { mode: 'pessimistic_write' } }));
    if (!token || !session) return { kind: 'invalid' as const };
    if (token.usedAt) return this.revokeReused(em, ctx, tenantId, session);
    if (session.revokedAt || session.expiresAt <= new Date()) return { kind: 'invalid' as const };
    const membership = await em.findOneBy(IdentityMembership, { tenantId, userId: session.userId });
    const user = await em
      .getRepository(User)
      .createQueryBuilder('u')
      .where('u.id = :id', { id: session.userId })
      .getOne();
    if ((!membership && !session.impersonatorId) || !user) return { kind: 'invalid' as const };
    // A password session ends its life where the tenant has since required single sign-on.
    if (
      membership &&
      session.authMethod === 'password' &&
      !session.impersonatorId &&
      (await passwordRefused(em, tenantId, membership.role))
    ) {
      return { kind: 'sso_required' as const };
    }
    const next = newRefreshToken();
    await em.update(RefreshToken, { tenantId, tokenHash: hash }, { usedAt: new Date() });
    await em.insert(RefreshToken, { tenantId, tokenHash: sha256(next), sessionId: session.id, usedAt: null });
    await em.update(Session, { tenantId, id: session.id }, { lastUsedAt: new Date() });
    await audit(em, ctx, tenantId, {
      action: 'refresh',
      result: AuditResult.SUCCESS,
      actorId: user.id,
      target: `session:${session.id}`,
    });
    return { kind: 'ok' as const, session, user, role: membership?.role ?? IMPERSONATION_ROLE, next };
  }

  /** A used refresh token came back: whoever holds it may have stolen it, so its session ends. */
  private async revokeReused(em: EntityManager, ctx: RequestContext, tenantId: string, session: Session) {
    if (!session.revokedAt) {
      await em.update(Session, { tenantId, id: session.id }, { revokedAt: new Date(), revokedReason: 'refresh_reuse' });
    }
    await audit(em, ctx, tenantId, {
      action: 'refresh_reuse',
      result: AuditResult.FAILURE,
      actorId: session.userId,
      target: `session:${session.id}`,
    });
    return { kind: 'reused' as const, session };
  }

  /** Signs out the calling session. */
  async logout(ctx: RequestContext): Promise<boolean> {
    if (!ctx.sessionId) return false;
    return this.revoke(ctx, ctx.sessionId, 'logout');
  }

  /** Signs the account out of every session in every tenant. */
  async logoutEverywhere(ctx: RequestContext): Promise<boolean> {
    const userId = ctx.userId!;
    const revoked = await withUser(this.deps.ds, userId, async (em) => {
      const open = await em.find(Session, { where: { userId, revokedAt: IsNull() } });
      if (open.length) {
        await em.update(
          Session,
          { userId, revokedAt: IsNull() },
          { revokedAt: new Date(), revokedReason: 'logout_everywhere' },
        );
      }
      // Whoever used up the account's password checks from a session of theirs has none left.
      await forgetPasswordChecks(em, userId);
      return open;
    });
    await auditSeparately(this.deps.ds, ctx, ctx.tenantId!, {
      action: 'logout_everywhere',
      result: AuditResult.SUCCESS,
      target: `user:${userId}`,
      details: { sessions: revoked.length },
    });
    await this.notifyRevoked(revoked);
    return true;
  }

  /** The account's open sessions in every tenant. */
  async list(ctx: RequestContext): Promise<SessionInfo[]> {
    const sessions = await withUser(this.deps.ds, ctx.userId!, (em) =>
      em.find(Session, { where: { userId: ctx.userId!, revokedAt: IsNull() }, order: { lastUsedAt: 'DESC' } }),
    );
    return sessions
      .filter((s) => s.expiresAt > new Date())
      .map((s) => ({
        id: s.id,
        createdAt: s.createdAt,
        lastUsedAt: s.lastUsedAt,
        expiresAt: s.expiresAt,
        userAgent: s.userAgent,
        ip: s.ip,
        current: s.id === ctx.sessionId,
        tenant: { id: s.tenantId },
      }));
  }

  /** Revokes one of the account's own sessions (any tenant). Another account's id is "not found". */
  async revoke(ctx: RequestContext, sessionId: string, reason = 'revoked'): Promise<boolean> {
    if (!isUuid(sessionId)) throw identityError(IdentityErrorCode.SESSION_NOT_FOUND);
    const session = await withUser(this.deps.ds, ctx.userId!, async (em) => {
      const found = await em.findOneBy(Session, { id: sessionId, userId: ctx.userId! });
      if (found && !found.revokedAt) {
        await em.update(
          Session,
          { tenantId: found.tenantId, id: found.id },
          { revokedAt: new Date(), revokedReason: reason },
        );
      }
      return found;
    });
    if (!session) {
      await auditSeparately(this.deps.ds, ctx, ctx.tenantId!, {
        action: 'session_revoke',
        result: AuditResult.FAILURE,
        target: `session:${sessionId}`,
      });
      throw identityError(IdentityErrorCode.SESSION_NOT_FOUND);
    }
    await auditSeparately(this.deps.ds, ctx, session.tenantId, {
      action: reason === 'logout' ? 'logout' : 'session_revoke',
      result: AuditResult.SUCCESS,
      target: `session:${session.id}`,
    });
    await this.notifyRevoked([session]);
    return true;
  }

  /**
   * Tells every gateway to drop these sessions now (HTTP refused, sockets closed with 4401). Only the fast
   * path: the revocation is already committed in `identity.sessions`, which every gateway reads every few
   * seconds (`revocations`), so an announcement that cannot go out now (Redis down) is never waited for
   * long and never makes the revocation fail.
   */
  async notifyRevoked(sessions: Pick<Session, 'id' | 'userId' | 'tenantId'>[]): Promise<void> {
    const revokedAt = new Date().toISOString();
    await announce(
      this.deps.pubsub,
      SESSION_REVOKED_TOPIC,
      sessions.map((s) => ({ sessionId: s.id, userId: s.userId, tenantId: s.tenantId, revokedAt })),
    );
  }

  /**
   * A page of the sessions and API keys revoked since the gateway's last look (`since`, identity's own
   * database time as this call last told it), reaching REVOCATION_OVERLAP_SECONDS further back and never
   * further than an access token's lifetime; in (revoked_at, id) order, continued `after` a row.
   */
  async revocations(query: RevocationsQuery): Promise<RevocationsPage> {
    const { since, after, limit = REVOCATIONS_PAGE_SIZE } = query;
    const furthest = this.deps.config.auth.ACCESS_TOKEN_TTL_SECONDS + REVOCATION_OVERLAP_SECONDS;
    // One row even when nothing was revoked (kind null): identity's time is always answered.
    const rows: { now: string; kind: 'session' | 'api_key' | null; id: string; prefix: string | null; at: string }[] =
      await withSystem(
        this.deps.ds,
        'revocations for the gateways',
        (em) =>
          em.query(
            `WITH b AS (
             SELECT now() AS now,
                    greatest(least(coalesce($1::timestamptz, '-infinity'), now()) - make_interval(secs => $2), now() - make_interval(secs => $3)) AS lower)
           SELECT ${UTC_MICROS('b.now')} AS now, p.kind, p.id, p.prefix, ${UTC_MICROS('p.revoked_at')} AS at
             FROM b LEFT JOIN LATERAL (
               SELECT r.* FROM (
                 SELECT 'session' AS kind, s.id, NULL::text AS prefix, s.revoked_at FROM identity.sessions s WHERE s.revoked_at > b.lower
                 UNION ALL
                 SELECT 'api_key', k.id, k.prefix, k.revoked_at FROM identity.api_keys k WHERE k.revoked_at > b.lower) r
                WHERE $4::timestamptz IS NULL OR (r.revoked_at, r.id) > ($4::timestamptz, $5::uuid)
                ORDER BY r.revoked_at, r.id
                LIMIT $6) p ON true
            ORDER BY p.revoked_at, p.id`,
            [since, REVOCATION_OVERLAP_SECONDS, furthest, after?.at ?? null, after?.id ?? null, limit + 1],
          ),
        'debug',
      );
    const now = rows[0].now;
    const found = rows.filter((r) => r.kind !== null);
    const page = found.slice(0, limit);
    const last = page[page.length - 1];
    return {
      now,
      revoked: page.map((r) =>
        r.kind === 'session'
          ? { kind: r.kind, id: r.id, revokedAt: r.at }
          : { kind: r.kind, id: r.id, prefix: r.prefix, revokedAt: r.at },
      ),
      next: found.length > limit ? { at: last.at, id: last.id } : null,
    };
  }
}
