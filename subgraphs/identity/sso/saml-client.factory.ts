import { SAML, ValidateInResponseTo, type CacheProvider } from '@node-saml/node-saml';
import { systemContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import type { HookRequest } from '../../../kernel/http/hooks';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { spEntityId, ssoPaths, type ConnectionRow, type SamlSettings } from './sso-connections.service';
import { CLOCK_SKEW_MS, REQUEST_TTL_MS } from './sso-login.constants';
import type { SsoRequestService } from './sso-requests.service';

/**
 * A SAML service provider for one connection (node-saml), with our settings: signed response and assertion checked
 * against the pinned certificate only, single-use InResponseTo kept in the database, bounded clock skew.
 */
export class SamlClientFactory {
  constructor(
    private readonly deps: SubgraphDeps,
    private readonly requests: SsoRequestService,
  ) {}

  saml(req: HookRequest, connection: ConnectionRow, browserHash: string | null = null): SAML {
    const settings = connection.settings as SamlSettings;
    const entityId = spEntityId(connection.tenant_id, connection.id);
    return new SAML({
      callbackUrl: this.requests.base(req) + ssoPaths(connection.tenant_id, connection.id).acs,
      entryPoint: settings.ssoUrl,
      issuer: entityId,
      audience: entityId,
      idpIssuer: settings.idpEntityId,
      // The pinned certificate only: a certificate inside the message (KeyInfo) is never trusted.
      idpCert: settings.certificate,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: true,
      validateInResponseTo: ValidateInResponseTo.always,
      requestIdExpirationPeriodMs: REQUEST_TTL_MS,
      acceptedClockSkewMs: CLOCK_SKEW_MS,
      maxAssertionAgeMs: REQUEST_TTL_MS,
      disableRequestedAuthnContext: true,
      identifierFormat: null,
      signatureAlgorithm: 'sha256',
      cacheProvider: this.requestCache(connection, browserHash),
    });
  }

  /** Request ids kept in the database (every instance can finish a sign-in); consumed once by the ACS. */
  private requestCache(connection: ConnectionRow, browserHash: string | null): CacheProvider {
    const scope = systemContext('sso', connection.tenant_id);
    return {
      saveAsync: async (key, value) => {
        await withTenant(this.deps.ds, scope, (em) =>
          em.query(
            `INSERT INTO identity.sso_requests (tenant_id, id, connection_id, browser_hash, expires_at) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
            [connection.tenant_id, `saml:${key}`, connection.id, browserHash, REQUEST_TTL_MS / 1000],
          ),
        );
        return { value, createdAt: Date.now() };
      },
      getAsync: async (key) => {
        const rows: { expires_at: Date }[] = await withTenant(this.deps.ds, scope, (em) =>
          em.query(
            `SELECT expires_at FROM identity.sso_requests WHERE tenant_id = $1 AND id = $2 AND connection_id = $3 AND used_at IS NULL AND expires_at > now()`,
            [connection.tenant_id, `saml:${key}`, connection.id],
          ),
        );
        // The value node-saml stored: when the request was made.
        return rows[0] ? new Date(new Date(rows[0].expires_at).getTime() - REQUEST_TTL_MS).toISOString() : null;
      },
      removeAsync: async (key) => key,
    };
  }
}
