import { randomBytes } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { isUuid, returningRows } from '../../../kernel/db/values';
import type { HookResponse } from '../../../kernel/http/hooks';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { AuditResult } from '../audit/audit-event.entity';
import { audit } from '../audit/audit.service';
import type { AuthPayload } from '../auth/auth.inputs';
import { IdentityErrorCode, identityError } from '../identity.errors';
import { SessionService } from '../sessions/session.service';
import { IdentityMembership } from '../users/membership.entity';
import { User } from '../users/user.entity';
import type { SsoAccount, SsoLinkOutcome } from './sso-account-link.service';
import type { ConnectionRow } from './sso-connections.service';
import { CODE_TTL_SECONDS } from './sso-login.constants';
import { sha256, type Claims } from './sso-login.types';

/**
 * The end of a sign-in: a one-time code (valid CODE_TTL_SECONDS, once), the audited `sso_login`, the redirect to
 * the application with the code; and the exchange of that code for a session (`completeSsoLogin`).
 */
export class SsoSessionIssuer {
  private readonly sessions: SessionService;

  constructor(private readonly deps: SubgraphDeps) {
    this.sessions = new SessionService(deps);
  }

  newCode(tenantId: string): string {
    return `${tenantId}.${randomBytes(32).toString('base64url')}`;
  }

  /** Keeps the code (by its hash) and audits the sign-in, in the caller's transaction. */
  async issueCode(
    em: EntityManager,
    ctx: RequestContext,
    connection: ConnectionRow,
    claims: Claims,
    { userId, customRole }: SsoAccount,
    { role, provisioned }: SsoLinkOutcome,
    code: string,
  ): Promise<void> {
    const tenantId = connection.tenant_id;
    await em.query(
      `INSERT INTO identity.sso_login_codes (tenant_id, code_hash, user_id, connection_id, role, expires_at) VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))`,
      [tenantId, sha256(code), userId, connection.id, role, CODE_TTL_SECONDS],
    );
    await audit(em, ctx, tenantId, {
      action: 'sso_login',
      result: AuditResult.SUCCESS,
      target: `sso:${connection.id}`,
      details: {
        kind: connection.kind,
        email: claims.email,
        groups: claims.groups,
        role,
        customRole: role === 'owner' ? null : customRole,
        provisioned,
      },
    });
  }

  /** To the application (the connection's redirect URL, else APP_URL/sso/callback) with the code. */
  redirect(connection: ConnectionRow, code: string): HookResponse {
    const target = new URL(
      connection.redirect_url ?? `${this.deps.config.mail.APP_URL.replace(/\/$/, '')}/sso/callback`,
    );
    target.searchParams.set('code', code);
    return { status: 302, headers: { location: target.toString(), 'cache-control': 'no-store' }, body: '' };
  }

  /** Exchanges a one-time code from a finished sign-in for the session's tokens. */
  async complete(ctx: RequestContext, code: string): Promise<AuthPayload> {
    const [tenantId, secret] = (typeof code === 'string' ? code : '').split('.');
    if (!isUuid(tenantId) || !secret) throw identityError(IdentityErrorCode.INVALID_SSO_CODE);
    const scope = { ...ctx, tenantId };
    return withTenant(this.deps.ds, scope, async (em) => {
      const [row] = returningRows<{ user_id: string }>(
        await em.query(
          `UPDATE identity.sso_login_codes SET used_at = now() WHERE tenant_id = $1 AND code_hash = $2 AND used_at IS NULL AND expires_at > now() RETURNING user_id`,
          [tenantId, sha256(code)],
        ),
      );
      const membership = row && (await em.findOneBy(IdentityMembership, { tenantId, userId: row.user_id }));
      if (!row || !membership) throw identityError(IdentityErrorCode.INVALID_SSO_CODE);
      const user = await em
        .getRepository(User)
        .createQueryBuilder('u')
        .where('u.id = :id', { id: row.user_id })
        .getOneOrFail();
      return this.sessions.open(
        em,
        { ...scope, userId: user.id },
        user,
        tenantId,
        membership.role,
        'sso_login',
        undefined,
        'sso',
      );
    });
  }
}
