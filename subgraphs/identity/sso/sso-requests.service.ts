import { randomUUID } from 'node:crypto';
import { admissionOf } from '../../../kernel/admission';
import { systemContext, type RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { HOOK_CLIENT_IP_HEADER, HOOK_ORIGIN_HEADER, type HookRequest } from '../../../kernel/http/hooks';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import type { ConnectionRow } from './sso-connections.service';
import { BROWSER_COOKIE } from './sso-login.constants';
import { SsoRefusal } from './sso-login.errors';
import { sha256 } from './sso-login.types';

/**
 * What every step of a sign-in needs from the HTTP request and the database: our public origin, the client, the
 * browser that started it, the tenant's connection, and the clean-up of sign-ins in flight.
 */
export class SsoRequestService {
  constructor(private readonly deps: SubgraphDeps) {}

  clientContext(req: HookRequest, tenantId: string): RequestContext {
    return {
      ...systemContext(`sso-${randomUUID()}`, tenantId),
      client: {
        ip: req.headers[HOOK_CLIENT_IP_HEADER] ?? null,
        userAgent: req.headers['user-agent']?.slice(0, 512) ?? null,
      },
    };
  }

  /** Our public origin. In production it must be configured: a request's Host header must never choose where IdPs send people. */
  base(req: HookRequest): string {
    const configured = this.deps.config.mail.PUBLIC_URL;
    if (!configured && this.deps.config.server.NODE_ENV === 'production') {
      throw new SsoRefusal(
        503,
        'SSO_NOT_CONFIGURED',
        'Single sign-on needs PUBLIC_URL (the gateway’s public origin) to be configured',
      );
    }
    return (configured ?? req.headers[HOOK_ORIGIN_HEADER] ?? 'http://localhost').replace(/\/$/, '');
  }

  async connection(tenantId: string, connectionId: string | null): Promise<ConnectionRow> {
    const rows: ConnectionRow[] = await withTenant(this.deps.ds, systemContext('sso', tenantId), (em) =>
      em.query(
        `SELECT * FROM identity.sso_connections WHERE tenant_id = $1 AND enabled AND ($2::uuid IS NULL OR id = $2) ORDER BY created_at LIMIT 1`,
        [tenantId, connectionId],
      ),
    );
    if (!rows[0])
      throw new SsoRefusal(404, 'SSO_CONNECTION_NOT_FOUND', 'This tenant has no such single sign-on connection');
    return rows[0];
  }

  /**
   * The connection a provider's answer comes back to, of the kind that answer needs; the tenant's admission is
   * taken before the answer (its state, its assertion) is used up, so a refused admission leaves it usable (see finish).
   */
  async callbackConnection(tenantId: string, connectionId: string, kind: 'oidc' | 'saml'): Promise<ConnectionRow> {
    const connection = await this.connection(tenantId, connectionId);
    admissionOf(tenantId, 'acceptInvitation');
    if (connection.kind !== kind) throw new SsoRefusal(404, 'NOT_FOUND', 'No such page');
    return connection;
  }

  /** Whether the callback came from the browser that started the sign-in (SAML over plain http cannot tell: see start). */
  sameBrowser(req: HookRequest, expected: string | null, kind: 'oidc' | 'saml'): boolean {
    if (kind === 'saml' && !this.base(req).startsWith('https:')) return true;
    const presented = (req.headers.cookie ?? '')
      .split(';')
      .map((c) => c.trim())
      .find((c) => c.startsWith(`${BROWSER_COOKIE}=`))
      ?.slice(BROWSER_COOKIE.length + 1);
    return expected !== null && presented !== undefined && sha256(presented) === expected;
  }

  /** Sign-ins in flight and one-time codes are kept an hour past their expiry, then dropped. */
  forgetExpired(tenantId: string): Promise<void> {
    return withTenant(this.deps.ds, systemContext('sso', tenantId), async (em) => {
      await em.query(
        `DELETE FROM identity.sso_requests WHERE tenant_id = $1 AND expires_at < now() - interval '1 hour'`,
        [tenantId],
      );
      await em.query(
        `DELETE FROM identity.sso_login_codes WHERE tenant_id = $1 AND expires_at < now() - interval '1 hour'`,
        [tenantId],
      );
    });
  }
}
