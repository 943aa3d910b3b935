import type * as Oidc from 'openid-client';
import { systemContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { returningRows } from '../../../kernel/db/values';
import type { HookRequest } from '../../../kernel/http/hooks';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { firstValidEmail } from '../users/email';
import type { OidcDiscoveryCache } from './oidc-discovery.cache';
import { openidClient, ssoPaths, type ConnectionRow, type OidcSettings } from './sso-connections.service';
import { SsoRefusal } from './sso-login.errors';
import { asGroups, type Claims } from './sso-login.types';
import type { SsoRequestService } from './sso-requests.service';

type OidcRequest = { nonce_secret: string; verifier_secret: string; browser_hash: string | null };
type Tokens = Awaited<ReturnType<typeof Oidc.authorizationCodeGrant>>;

/**
 * The OIDC callback: the provider's error, the single-use state (bound to the browser that started the sign-in),
 * the authorization code grant with PKCE and nonce (the ID token's signature is checked: see `discover`), and the
 * claims (a valid e-mail address the provider does not say is unverified, the groups).
 */
export class OidcResponseValidator {
  constructor(
    private readonly deps: SubgraphDeps,
    private readonly requests: SsoRequestService,
    private readonly oidcConfigs: OidcDiscoveryCache,
  ) {}

  async validate(
    req: HookRequest,
    tenantId: string,
    connectionId: string,
  ): Promise<{ connection: ConnectionRow; claims: Claims }> {
    const connection = await this.requests.callbackConnection(tenantId, connectionId, 'oidc');
    if (req.query.get('error'))
      throw new SsoRefusal(
        401,
        'SSO_PROVIDER_ERROR',
        `The identity provider refused: ${req.query.get('error')} ${req.query.get('error_description') ?? ''}`.trim(),
      );
    const state = req.query.get('state') ?? '';
    const request = await this.consumeState(req, tenantId, connectionId, state);
    const tokens = await this.exchange(req, connection, ssoPaths(tenantId, connectionId).oidcCallback, state, request);
    return { connection, claims: this.claimsOf(connection, tokens) };
  }

  /** The state is single-use: whoever presents it first consumes it; it must come back to the browser that started. */
  private async consumeState(
    req: HookRequest,
    tenantId: string,
    connectionId: string,
    state: string,
  ): Promise<OidcRequest> {
    const [request] = await withTenant(this.deps.ds, systemContext('sso', tenantId), async (em) =>
      returningRows<OidcRequest>(
        await em.query(
          `UPDATE identity.sso_requests SET used_at = now() WHERE tenant_id = $1 AND id = $2 AND connection_id = $3 AND used_at IS NULL AND expires_at > now() RETURNING nonce_secret, verifier_secret, browser_hash`,
          [tenantId, `oidc:${state}`, connectionId],
        ),
      ),
    );
    if (!request)
      throw new SsoRefusal(
        401,
        'SSO_STATE_INVALID',
        'This sign-in was not started here, was already used or has expired: start again',
      );
    if (!this.requests.sameBrowser(req, request.browser_hash, 'oidc'))
      throw new SsoRefusal(
        401,
        'SSO_BROWSER_MISMATCH',
        'This sign-in was started in another browser: start again here',
      );
    return request;
  }

  private async exchange(
    req: HookRequest,
    connection: ConnectionRow,
    callbackPath: string,
    state: string,
    request: OidcRequest,
  ): Promise<Tokens> {
    const config = await this.oidcConfigs.config(connection);
    const callback = new URL(this.requests.base(req) + callbackPath);
    callback.search = req.query.toString();
    const oidc = await openidClient();
    try {
      return await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: request.verifier_secret,
        expectedState: state,
        expectedNonce: request.nonce_secret,
        idTokenExpected: true,
      });
    } catch (err) {
      throw new SsoRefusal(
        401,
        'SSO_OIDC_REJECTED',
        `The identity provider's answer was refused: ${(err as Error).message}`,
      );
    }
  }

  private claimsOf(connection: ConnectionRow, tokens: Tokens): Claims {
    const claims = tokens.claims();
    if (!claims) throw new SsoRefusal(401, 'SSO_OIDC_REJECTED', 'No ID token');
    const email = firstValidEmail(claims.email);
    if (email === null) throw new SsoRefusal(401, 'SSO_NO_EMAIL', 'The identity provider sent no valid e-mail address');
    // `false` and "false" (as some providers send it) refuse the address, as does any other value but true and
    // "true". A provider that sends no claim at all (Entra ID) is taken at its word: a connection signs in only
    // addresses of domains its tenant has verified, so the tenant vouches for them.
    const verified = claims.email_verified;
    if (verified !== undefined && verified !== null && verified !== true && verified !== 'true') {
      throw new SsoRefusal(
        401,
        'SSO_EMAIL_UNVERIFIED',
        'The identity provider has not verified this e-mail address (email_verified)',
      );
    }
    const groups = asGroups(claims[(connection.settings as OidcSettings).groupsClaim]);
    return { subject: claims.sub, email, groups };
  }
}
