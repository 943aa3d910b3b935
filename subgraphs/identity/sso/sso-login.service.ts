import type { EntityManager } from 'typeorm';
import { AdmissionRequired } from '../../../kernel/admission';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { isUuid } from '../../../kernel/db/values';
import type { HookRequest, HookResponse } from '../../../kernel/http/hooks';
import { logger } from '../../../kernel/log';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { AuditResult } from '../audit/audit-event.entity';
import { auditSeparately } from '../audit/audit.service';
import type { AuthPayload } from '../auth/auth.inputs';
import { OidcDiscoveryCache } from './oidc-discovery.cache';
import { OidcResponseValidator } from './oidc-response.validator';
import { SamlClientFactory } from './saml-client.factory';
import { SamlResponseValidator } from './saml-response.validator';
import { SsoAccountLinkService } from './sso-account-link.service';
import type { ConnectionRow } from './sso-connections.service';
import { SsoRefusal, refusalPage } from './sso-login.errors';
import type { Claims } from './sso-login.types';
import { SsoRequestService } from './sso-requests.service';
import { SsoSessionIssuer } from './sso-session.issuer';
import { SsoStartService } from './sso-start.service';

const log = logger('identity.sso');

/**
 * Browser sign-in through a tenant's identity provider, on HTTP routes the gateway forwards (`/sso/…`):
 * start (by tenant, connection, or an e-mail address whose domain the tenant verified), OIDC callback
 * (authorization code with PKCE S256, state and nonce), SAML Assertion Consumer Service (signed response
 * and assertion checked against the pinned certificate only, audience, destination and recipient,
 * single-use InResponseTo, assertion ids never accepted twice, bounded clock skew). A finished sign-in
 * provisions the account and membership on first use, maps the provider's groups to a role, and
 * redirects to the application with a one-time code that `completeSsoLogin` exchanges for tokens. Every
 * sign-in, and every refusal, is audited in the tenant.
 *
 * Each step lives in its own unit: SsoStartService (redirect to the provider), OidcResponseValidator and
 * SamlResponseValidator (the provider's answer), SsoAccountLinkService (account, membership, roles),
 * SsoSessionIssuer (one-time code, redirect, exchange for a session).
 */
export class SsoLoginService {
  private readonly requests: SsoRequestService;
  private readonly starts: SsoStartService;
  private readonly oidcResponses: OidcResponseValidator;
  private readonly samlResponses: SamlResponseValidator;
  private readonly accounts: SsoAccountLinkService;
  private readonly issuer: SsoSessionIssuer;

  constructor(private readonly deps: SubgraphDeps) {
    this.requests = new SsoRequestService(deps);
    const oidcConfigs = new OidcDiscoveryCache(deps);
    const samlClients = new SamlClientFactory(deps, this.requests);
    this.starts = new SsoStartService(deps, this.requests, oidcConfigs, samlClients);
    this.oidcResponses = new OidcResponseValidator(deps, this.requests, oidcConfigs);
    this.samlResponses = new SamlResponseValidator(deps, this.requests, samlClients);
    this.accounts = new SsoAccountLinkService(deps);
    this.issuer = new SsoSessionIssuer(deps);
  }

  async handle(req: HookRequest): Promise<HookResponse> {
    const json = (req.headers.accept ?? '').includes('application/json');
    const parts = req.path.split('/');
    let tenantId: string | null = null;
    let connectionId: string | null = null;
    try {
      if (parts[0] !== 'sso') throw new SsoRefusal(404, 'NOT_FOUND', 'No such page');
      if (parts[1] === 'start' && parts.length === 2 && req.method === 'GET') {
        tenantId = req.query.get('tenant');
        connectionId = req.query.get('connection');
        return await this.starts.start(req, tenantId, connectionId);
      }
      if (parts[1] === 'oidc' && parts[2] === 'callback' && parts.length === 3 && req.method === 'GET') {
        // The state carries tenant and connection: `<tenant>.<connection>.<random>`.
        [tenantId, connectionId] = (req.query.get('state') ?? '').split('.');
        if (!isUuid(tenantId) || !isUuid(connectionId))
          throw new SsoRefusal(401, 'SSO_STATE_INVALID', 'This sign-in was not started here: start again');
        return await this.finish(req, await this.oidcResponses.validate(req, tenantId, connectionId));
      }
      [tenantId, connectionId] = [parts[3] ?? null, parts[4] ?? null];
      if (parts.length !== 5 || !isUuid(tenantId) || !isUuid(connectionId))
        throw new SsoRefusal(404, 'NOT_FOUND', 'No such page');
      const route = `${parts[1]}/${parts[2]} ${req.method}`;
      if (route === 'saml/acs POST')
        return await this.finish(req, await this.samlResponses.validate(req, tenantId, connectionId));
      if (route === 'saml/metadata GET') return await this.starts.samlMetadata(req, tenantId, connectionId);
      throw new SsoRefusal(404, 'NOT_FOUND', 'No such page');
    } catch (err) {
      if (err instanceof AdmissionRequired) throw err; // answered by the gateway, which sends the call again
      return this.refuse(req, err, tenantId, connectionId, json);
    }
  }

  /** Exchanges a one-time code from a finished sign-in for the session's tokens. */
  complete(ctx: RequestContext, code: string): Promise<AuthPayload> {
    return this.issuer.complete(ctx, code);
  }

  /** A refusal (or an unexpected failure, logged) as an error page, audited in the tenant when it names one. */
  private async refuse(
    req: HookRequest,
    err: unknown,
    tenantId: string | null,
    connectionId: string | null,
    json: boolean,
  ): Promise<HookResponse> {
    const refusal = err instanceof SsoRefusal ? err : null;
    if (!refusal) log.error({ err }, 'single sign-on failed');
    const r = refusal ?? new SsoRefusal(500, 'SSO_FAILED', 'Sign-in could not be completed; try again');
    if (isUuid(tenantId) && r.status !== 404) {
      const ctx = this.requests.clientContext(req, tenantId);
      await auditSeparately(this.deps.ds, ctx, tenantId, {
        action: 'sso_login_failed',
        result: AuditResult.FAILURE,
        actorId: null,
        target: isUuid(connectionId) ? `sso:${connectionId}` : null,
        details: { code: r.code, reason: r.message },
      });
    }
    return refusalPage(r.status, r.code, r.message, json);
  }

  /**
   * A validated answer of the provider: the account (checked, then provisioned and linked), a one-time code in
   * the same transaction, then what others must learn, and the redirect to the application with the code.
   */
  private async finish(
    req: HookRequest,
    { connection, claims }: { connection: ConnectionRow; claims: Claims },
  ): Promise<HookResponse> {
    const tenantId = connection.tenant_id;
    const account = await this.accounts.resolve(connection, claims);
    const code = this.issuer.newCode(tenantId);
    const ctx = { ...this.requests.clientContext(req, tenantId), userId: account.userId };
    const outcome = await withTenant(this.deps.ds, ctx, async (em: EntityManager) => {
      const linked = await this.accounts.link(em, ctx, connection, claims, account);
      await this.issuer.issueCode(em, ctx, connection, claims, account, linked, code);
      return linked;
    });
    await this.accounts.publish(tenantId, outcome);
    return this.issuer.redirect(connection, code);
  }
}
