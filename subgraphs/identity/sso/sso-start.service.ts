import { randomBytes } from 'node:crypto';
import { systemContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { isUuid } from '../../../kernel/db/values';
import type { HookRequest, HookResponse } from '../../../kernel/http/hooks';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import type { OidcDiscoveryCache } from './oidc-discovery.cache';
import type { SamlClientFactory } from './saml-client.factory';
import { openidClient, ssoPaths, type ConnectionRow, type OidcSettings } from './sso-connections.service';
import { BROWSER_COOKIE, REQUEST_TTL_MS } from './sso-login.constants';
import { SsoRefusal } from './sso-login.errors';
import { sha256 } from './sso-login.types';
import type { SsoRequestService } from './sso-requests.service';

/**
 * The start of a sign-in: the redirect to the tenant's identity provider (OIDC authorization request with PKCE S256,
 * state and nonce; SAML AuthnRequest), bound to the browser by a cookie; and the SAML metadata IdPs read of us.
 */
export class SsoStartService {
  constructor(
    private readonly deps: SubgraphDeps,
    private readonly requests: SsoRequestService,
    private readonly oidcConfigs: OidcDiscoveryCache,
    private readonly samlClients: SamlClientFactory,
  ) {}

  async start(req: HookRequest, tenantId: string | null, connectionId: string | null): Promise<HookResponse> {
    if (!isUuid(tenantId)) {
      throw new SsoRefusal(
        400,
        'SSO_TENANT_UNKNOWN',
        'Give the tenant, or an e-mail address whose domain the tenant has verified',
      );
    }
    if (connectionId !== null && !isUuid(connectionId))
      throw new SsoRefusal(404, 'SSO_CONNECTION_NOT_FOUND', 'This tenant has no such single sign-on connection');
    const connection = await this.requests.connection(tenantId, connectionId);
    // The sign-in is bound to this browser: the callback must come back with the same cookie (no login CSRF).
    const browser = randomBytes(24).toString('base64url');
    const location =
      connection.kind === 'oidc'
        ? await this.oidcStart(req, connection, sha256(browser))
        : await this.samlStart(req, connection, sha256(browser));
    const secure = this.requests.base(req).startsWith('https:');
    // SAML answers with a cross-site POST, which carries only SameSite=None cookies (and those need https).
    const sameSite = connection.kind === 'saml' && secure ? 'None' : 'Lax';
    const cookie = `${BROWSER_COOKIE}=${browser}; Path=/sso; Max-Age=${REQUEST_TTL_MS / 1000}; HttpOnly; SameSite=${sameSite}${secure ? '; Secure' : ''}`;
    return { status: 302, headers: { location, 'cache-control': 'no-store', 'set-cookie': cookie }, body: '' };
  }

  async samlMetadata(req: HookRequest, tenantId: string, connectionId: string): Promise<HookResponse> {
    const connection = await this.requests.connection(tenantId, connectionId);
    if (connection.kind !== 'saml') throw new SsoRefusal(404, 'NOT_FOUND', 'No such page');
    return {
      status: 200,
      headers: { 'content-type': 'application/samlmetadata+xml; charset=utf-8' },
      body: this.samlClients.saml(req, connection).generateServiceProviderMetadata(null),
    };
  }

  private async oidcStart(req: HookRequest, connection: ConnectionRow, browserHash: string): Promise<string> {
    const settings = connection.settings as OidcSettings;
    const config = await this.oidcConfigs.config(connection).catch((err: Error) => {
      throw new SsoRefusal(
        502,
        'SSO_PROVIDER_UNAVAILABLE',
        `The identity provider could not be reached (${err.message})`,
      );
    });
    const oidc = await openidClient();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = `${connection.tenant_id}.${connection.id}.${oidc.randomState()}`;
    const nonce = oidc.randomNonce();
    await this.requests.forgetExpired(connection.tenant_id);
    await withTenant(this.deps.ds, systemContext('sso', connection.tenant_id), async (em) => {
      await em.query(
        `INSERT INTO identity.sso_requests (tenant_id, id, connection_id, nonce_secret, verifier_secret, browser_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))`,
        [connection.tenant_id, `oidc:${state}`, connection.id, nonce, verifier, browserHash, REQUEST_TTL_MS / 1000],
      );
    });
    return oidc
      .buildAuthorizationUrl(config, {
        redirect_uri: this.requests.base(req) + ssoPaths(connection.tenant_id, connection.id).oidcCallback,
        scope: settings.scopes.join(' '),
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      })
      .toString();
  }

  private async samlStart(req: HookRequest, connection: ConnectionRow, browserHash: string): Promise<string> {
    await this.requests.forgetExpired(connection.tenant_id);
    return this.samlClients.saml(req, connection, browserHash).getAuthorizeUrlAsync('', undefined, {});
  }
}
