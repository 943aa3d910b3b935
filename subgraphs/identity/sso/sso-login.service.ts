import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { announce } from '../../../kernel/pubsub';
import { SAML, ValidateInResponseTo, type CacheProvider, type Profile } from '@node-saml/node-saml';
import { DOMParser, type Element } from '@xmldom/xmldom';
import type * as Oidc from 'openid-client';
import type { EntityManager } from 'typeorm';
import { systemContext, type RequestContext } from '../../../kernel/context';
import { AdmissionRequired, admissionOf, noteEffect, spend } from '../../../kernel/admission';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { AppError } from '../../../kernel/errors';
import { isUuid, returningRows } from '../../../kernel/db/values';
import { recordEvent } from '../../../kernel/events';
import {
  HOOK_CLIENT_IP_HEADER,
  HOOK_ORIGIN_HEADER,
  type HookRequest,
  type HookResponse,
} from '../../../kernel/http/hooks';
import { dataKey } from '../../../kernel/keys';
import { logger } from '../../../kernel/log';
import { openSecret } from '../../../kernel/secret-box';
import { PERMISSIONS_CHANGED_TOPIC } from '../../../kernel/topics';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { AuditResult } from '../audit/audit-event.entity';
import { audit, auditSeparately } from '../audit/audit.service';
import type { AuthPayload } from '../auth/auth.inputs';
import { IdentityErrorCode, identityError } from '../identity.errors';
import { hashPassword } from '../passwords/password-hash';
import { SessionService } from '../sessions/session.service';
import { isSystemRole } from '../rbac/permissions';
import { IdentityMembership } from '../users/membership.entity';
import { firstValidEmail } from '../users/email';
import { User } from '../users/user.entity';
import {
  discover,
  localProvidersAllowed,
  openidClient,
  sealContext,
  spEntityId,
  ssoPaths,
  tenantHoldsDomainSql,
  type ConnectionRow,
  type OidcSettings,
  type SamlSettings,
} from './sso-connections.service';

const REQUEST_TTL_MS = 10 * 60_000;
const CODE_TTL_SECONDS = 60;
/** How far the IdP's clock may be from ours. */
const CLOCK_SKEW_MS = 60_000;
const DISCOVERY_TTL_MS = 10 * 60_000;
const BROWSER_COOKIE = 'nexus_sso';

const log = logger('identity.sso');

/** A refused sign-in: the code and message shown on the error page, and the HTTP status. */
class SsoRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A member added by a sign-in is admitted like an accepted invitation: the tenant's status and members limit. */
function admitMember(tenantId: string): void {
  try {
    spend(tenantId, 'members', 'acceptInvitation');
  } catch (err) {
    if (!(err instanceof AppError) || err instanceof AdmissionRequired) throw err;
    const code = String(err.extensions.code);
    if (code !== 'QUOTA_EXCEEDED') throw new SsoRefusal(403, code, `${err.message}: nobody new can join it now`);
    throw new SsoRefusal(429, code, 'This tenant has reached its members limit: ask an admin of this tenant');
  }
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(status: number, code: string, message: string, json: boolean): HookResponse {
  if (json) return { status, body: { error: { code, message } } };
  return {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
    body: `<!doctype html><html><head><meta charset="utf-8"><title>Sign-in failed</title></head><body><h1>Sign-in failed</h1><p>${escapeHtml(message)}</p><p>Code: <code id="error-code">${code}</code></p></body></html>`,
  };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

interface Claims {
  subject: string;
  email: string;
  groups: string[];
}

const SAML_ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
const ENTITY_FORMAT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:entity';

/**
 * The entity id in an element's own `<saml:Issuer>` (a direct child: never one of a nested assertion); null when it
 * has none; false when it names no IdP (another format than an entity id, or empty), which matches no connection.
 */
function issuerOf(element: Element): string | null | false {
  for (let node = element.firstChild; node; node = node.nextSibling) {
    const child = node as Element;
    if (node.nodeType !== node.ELEMENT_NODE || child.localName !== 'Issuer' || child.namespaceURI !== SAML_ASSERTION)
      continue;
    const format = child.getAttribute('Format');
    if (format && format !== ENTITY_FORMAT) return false;
    return (child.textContent ?? '').trim() || false;
  }
  return null;
}

function asGroups(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/**
 * Browser sign-in through a tenant's identity provider, on HTTP routes the gateway forwards (`/sso/…`):
 * start (by tenant, connection, or an e-mail address whose domain the tenant verified), OIDC callback
 * (authorization code with PKCE S256, state and nonce), SAML Assertion Consumer Service (signed response
 * and assertion checked against the pinned certificate only, audience, destination and recipient,
 * single-use InResponseTo, assertion ids never accepted twice, bounded clock skew). A finished sign-in
 * provisions the account and membership on first use, maps the provider's groups to a role, and
 * redirects to the application with a one-time code that `completeSsoLogin` exchanges for tokens. Every
 * sign-in, and every refusal, is audited in the tenant.
 */
export class SsoLoginService {
  private readonly sessions: SessionService;
  private readonly discovered = new Map<string, { at: number; config: Promise<Oidc.Configuration> }>();

  constructor(private readonly deps: SubgraphDeps) {
    this.sessions = new SessionService(deps);
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
        return await this.start(req, tenantId, connectionId);
      }
      if (parts[1] === 'oidc' && parts[2] === 'callback' && parts.length === 3 && req.method === 'GET') {
        // The state carries tenant and connection: `<tenant>.<connection>.<random>`.
        [tenantId, connectionId] = (req.query.get('state') ?? '').split('.');
        if (!isUuid(tenantId) || !isUuid(connectionId))
          throw new SsoRefusal(401, 'SSO_STATE_INVALID', 'This sign-in was not started here: start again');
        return await this.oidcCallback(req, tenantId, connectionId);
      }
      [tenantId, connectionId] = [parts[3] ?? null, parts[4] ?? null];
      if (parts.length !== 5 || !isUuid(tenantId) || !isUuid(connectionId))
        throw new SsoRefusal(404, 'NOT_FOUND', 'No such page');
      const route = `${parts[1]}/${parts[2]} ${req.method}`;
      if (route === 'saml/acs POST') return await this.samlAcs(req, tenantId, connectionId);
      if (route === 'saml/metadata GET') return await this.samlMetadata(req, tenantId, connectionId);
      throw new SsoRefusal(404, 'NOT_FOUND', 'No such page');
    } catch (err) {
      if (err instanceof AdmissionRequired) throw err; // answered by the gateway, which sends the call again
      const refusal = err instanceof SsoRefusal ? err : null;
      if (!refusal) log.error({ err }, 'single sign-on failed');
      const r = refusal ?? new SsoRefusal(500, 'SSO_FAILED', 'Sign-in could not be completed; try again');
      if (isUuid(tenantId) && r.status !== 404) {
        const ctx = this.clientContext(req, tenantId);
        await auditSeparately(this.deps.ds, ctx, tenantId, {
          action: 'sso_login_failed',
          result: AuditResult.FAILURE,
          actorId: null,
          target: isUuid(connectionId) ? `sso:${connectionId}` : null,
          details: { code: r.code, reason: r.message },
        });
      }
      return page(r.status, r.code, r.message, json);
    }
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

  private clientContext(req: HookRequest, tenantId: string): RequestContext {
    return {
      ...systemContext(`sso-${randomUUID()}`, tenantId),
      client: {
        ip: req.headers[HOOK_CLIENT_IP_HEADER] ?? null,
        userAgent: req.headers['user-agent']?.slice(0, 512) ?? null,
      },
    };
  }

  /** Our public origin. In production it must be configured: a request's Host header must never choose where IdPs send people. */
  private base(req: HookRequest): string {
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

  private async connection(tenantId: string, connectionId: string | null): Promise<ConnectionRow> {
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

  private async start(req: HookRequest, tenantId: string | null, connectionId: string | null): Promise<HookResponse> {
    if (!isUuid(tenantId)) {
      throw new SsoRefusal(
        400,
        'SSO_TENANT_UNKNOWN',
        'Give the tenant, or an e-mail address whose domain the tenant has verified',
      );
    }
    if (connectionId !== null && !isUuid(connectionId))
      throw new SsoRefusal(404, 'SSO_CONNECTION_NOT_FOUND', 'This tenant has no such single sign-on connection');
    const connection = await this.connection(tenantId, connectionId);
    // The sign-in is bound to this browser: the callback must come back with the same cookie (no login CSRF).
    const browser = randomBytes(24).toString('base64url');
    const location =
      connection.kind === 'oidc'
        ? await this.oidcStart(req, connection, sha256(browser))
        : await this.samlStart(req, connection, sha256(browser));
    const secure = this.base(req).startsWith('https:');
    // SAML answers with a cross-site POST, which carries only SameSite=None cookies (and those need https).
    const sameSite = connection.kind === 'saml' && secure ? 'None' : 'Lax';
    const cookie = `${BROWSER_COOKIE}=${browser}; Path=/sso; Max-Age=${REQUEST_TTL_MS / 1000}; HttpOnly; SameSite=${sameSite}${secure ? '; Secure' : ''}`;
    return { status: 302, headers: { location, 'cache-control': 'no-store', 'set-cookie': cookie }, body: '' };
  }

  /** Whether the callback came from the browser that started the sign-in (SAML over plain http cannot tell: see start). */
  private sameBrowser(req: HookRequest, expected: string | null, kind: 'oidc' | 'saml'): boolean {
    if (kind === 'saml' && !this.base(req).startsWith('https:')) return true;
    const presented = (req.headers.cookie ?? '')
      .split(';')
      .map((c) => c.trim())
      .find((c) => c.startsWith(`${BROWSER_COOKIE}=`))
      ?.slice(BROWSER_COOKIE.length + 1);
    return expected !== null && presented !== undefined && sha256(presented) === expected;
  }

  // ---------------------------------------------------------------- OIDC --

  private oidcConfig(connection: ConnectionRow): Promise<Oidc.Configuration> {
    const cached = this.discovered.get(connection.id);
    if (cached && Date.now() - cached.at < DISCOVERY_TTL_MS) return cached.config;
    const settings = connection.settings as OidcSettings;
    const secret = openSecret(
      dataKey(this.deps.keys),
      connection.secret_sealed ?? '',
      sealContext(connection.tenant_id, connection.id),
    );
    const config = discover(settings.issuer, settings.clientId, secret, localProvidersAllowed(this.deps.config));
    this.discovered.set(connection.id, { at: Date.now(), config });
    config.catch(() => this.discovered.delete(connection.id));
    return config;
  }

  private async oidcStart(req: HookRequest, connection: ConnectionRow, browserHash: string): Promise<string> {
    const settings = connection.settings as OidcSettings;
    const config = await this.oidcConfig(connection).catch((err: Error) => {
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
    await this.forgetExpired(connection.tenant_id);
    await withTenant(this.deps.ds, systemContext('sso', connection.tenant_id), async (em) => {
      await em.query(
        `INSERT INTO identity.sso_requests (tenant_id, id, connection_id, nonce_secret, verifier_secret, browser_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))`,
        [connection.tenant_id, `oidc:${state}`, connection.id, nonce, verifier, browserHash, REQUEST_TTL_MS / 1000],
      );
    });
    return oidc
      .buildAuthorizationUrl(config, {
        redirect_uri: this.base(req) + ssoPaths(connection.tenant_id, connection.id).oidcCallback,
        scope: settings.scopes.join(' '),
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      })
      .toString();
  }

  private async oidcCallback(req: HookRequest, tenantId: string, connectionId: string): Promise<HookResponse> {
    const connection = await this.connection(tenantId, connectionId);
    admissionOf(tenantId, 'acceptInvitation'); // before the state is used up: see finish
    if (connection.kind !== 'oidc') throw new SsoRefusal(404, 'NOT_FOUND', 'No such page');
    if (req.query.get('error'))
      throw new SsoRefusal(
        401,
        'SSO_PROVIDER_ERROR',
        `The identity provider refused: ${req.query.get('error')} ${req.query.get('error_description') ?? ''}`.trim(),
      );
    const state = req.query.get('state') ?? '';
    // The state is single-use: whoever presents it first consumes it.
    const [request] = await withTenant(this.deps.ds, systemContext('sso', tenantId), async (em) =>
      returningRows<{ nonce_secret: string; verifier_secret: string; browser_hash: string | null }>(
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
    if (!this.sameBrowser(req, request.browser_hash, 'oidc'))
      throw new SsoRefusal(
        401,
        'SSO_BROWSER_MISMATCH',
        'This sign-in was started in another browser: start again here',
      );
    const config = await this.oidcConfig(connection);
    const callback = new URL(this.base(req) + ssoPaths(tenantId, connectionId).oidcCallback);
    callback.search = req.query.toString();
    const oidc = await openidClient();
    let tokens: Awaited<ReturnType<typeof Oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, callback, {
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
    return this.finish(req, connection, { subject: claims.sub, email, groups });
  }

  // ---------------------------------------------------------------- SAML --

  private saml(req: HookRequest, connection: ConnectionRow, browserHash: string | null = null): SAML {
    const settings = connection.settings as SamlSettings;
    const entityId = spEntityId(connection.tenant_id, connection.id);
    return new SAML({
      callbackUrl: this.base(req) + ssoPaths(connection.tenant_id, connection.id).acs,
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

  /** Request ids kept in the database (every instance can finish a sign-in); consumed once by samlAcs. */
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

  private async samlStart(req: HookRequest, connection: ConnectionRow, browserHash: string): Promise<string> {
    await this.forgetExpired(connection.tenant_id);
    return this.saml(req, connection, browserHash).getAuthorizeUrlAsync('', undefined, {});
  }

  /** Sign-ins in flight and one-time codes are kept an hour past their expiry, then dropped. */
  private forgetExpired(tenantId: string): Promise<void> {
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

  private async samlMetadata(req: HookRequest, tenantId: string, connectionId: string): Promise<HookResponse> {
    const connection = await this.connection(tenantId, connectionId);
    if (connection.kind !== 'saml') throw new SsoRefusal(404, 'NOT_FOUND', 'No such page');
    return {
      status: 200,
      headers: { 'content-type': 'application/samlmetadata+xml; charset=utf-8' },
      body: this.saml(req, connection).generateServiceProviderMetadata(null),
    };
  }

  private async samlAcs(req: HookRequest, tenantId: string, connectionId: string): Promise<HookResponse> {
    const connection = await this.connection(tenantId, connectionId);
    admissionOf(tenantId, 'acceptInvitation'); // before the response is used up: see finish
    if (connection.kind !== 'saml') throw new SsoRefusal(404, 'NOT_FOUND', 'No such page');
    const form = new URLSearchParams(req.body.toString('utf8'));
    const samlResponse = form.get('SAMLResponse');
    if (!samlResponse) throw new SsoRefusal(400, 'SSO_SAML_REJECTED', 'No SAMLResponse was posted');
    const acsUrl = this.base(req) + ssoPaths(tenantId, connectionId).acs;
    let profile: Profile | null;
    try {
      ({ profile } = await this.saml(req, connection).validatePostResponseAsync({ SAMLResponse: samlResponse }));
    } catch (err) {
      throw new SsoRefusal(
        401,
        'SSO_SAML_REJECTED',
        `The identity provider's response was refused: ${(err as Error).message}`,
      );
    }
    if (!profile) throw new SsoRefusal(401, 'SSO_SAML_REJECTED', 'The response signed nobody in');
    // Checked here (node-saml does not): the signed response and its assertion come from the connection's IdP
    // (Issuer) and were meant for this endpoint (Destination, Recipient). The response's root element is the one
    // whose signature node-saml verified; the assertion is the signed one it read.
    const idpEntityId = (connection.settings as SamlSettings).idpEntityId.trim();
    if (!idpEntityId)
      throw new SsoRefusal(
        401,
        'SSO_SAML_REJECTED',
        'This connection names no IdP entity id: an admin of this tenant must save it again',
      );
    const response = new DOMParser().parseFromString(
      Buffer.from(samlResponse, 'base64').toString('utf8'),
      'text/xml',
    ).documentElement;
    const assertion = new DOMParser().parseFromString(profile.getAssertionXml?.() ?? '', 'text/xml').documentElement;
    const responseIssuer = response ? issuerOf(response) : null;
    if (responseIssuer !== null && responseIssuer !== idpEntityId) {
      throw new SsoRefusal(
        401,
        'SSO_SAML_REJECTED',
        "The response comes from another identity provider than this connection's (Issuer)",
      );
    }
    if (!assertion || issuerOf(assertion) !== idpEntityId) {
      throw new SsoRefusal(
        401,
        'SSO_SAML_REJECTED',
        "The assertion comes from another identity provider than this connection's (Issuer)",
      );
    }
    if (response?.getAttribute('Destination') !== acsUrl)
      throw new SsoRefusal(401, 'SSO_SAML_REJECTED', 'The response is addressed to another endpoint (Destination)');
    const confirmation = assertion.getElementsByTagNameNS(SAML_ASSERTION, 'SubjectConfirmationData')[0] as
      Element | undefined;
    if (confirmation?.getAttribute('Recipient') !== acsUrl)
      throw new SsoRefusal(401, 'SSO_SAML_REJECTED', 'The assertion is for another endpoint (Recipient)');
    const assertionId = assertion.getAttribute('ID');
    const conditions = assertion.getElementsByTagNameNS(SAML_ASSERTION, 'Conditions')[0] as Element | undefined;
    const notOnOrAfter = Date.parse(conditions?.getAttribute('NotOnOrAfter') ?? '');
    if (!assertionId || !profile.inResponseTo)
      throw new SsoRefusal(401, 'SSO_SAML_REJECTED', 'The assertion has no ID or answers no request');
    const inResponseTo = profile.inResponseTo;
    const fresh = await withTenant(this.deps.ds, systemContext('sso', tenantId), async (em) => {
      await em.query(`DELETE FROM identity.sso_assertions WHERE tenant_id = $1 AND expires_at < now()`, [tenantId]);
      const request = returningRows<{ browser_hash: string | null }>(
        await em.query(
          `UPDATE identity.sso_requests SET used_at = now() WHERE tenant_id = $1 AND id = $2 AND connection_id = $3 AND used_at IS NULL AND expires_at > now() RETURNING browser_hash`,
          [tenantId, `saml:${inResponseTo}`, connectionId],
        ),
      );
      if (request[0] && !this.sameBrowser(req, request[0].browser_hash, 'saml')) return 'other-browser' as const;
      // Kept until the assertion could no longer be accepted anyway (its NotOnOrAfter, plus the allowed skew).
      const until = new Date(
        (Number.isFinite(notOnOrAfter) ? notOnOrAfter : Date.now() + REQUEST_TTL_MS) + CLOCK_SKEW_MS,
      );
      const assertionNew = returningRows(
        await em.query(
          `INSERT INTO identity.sso_assertions (tenant_id, connection_id, assertion_id, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING assertion_id`,
          [tenantId, connectionId, assertionId, until],
        ),
      );
      return request.length > 0 && assertionNew.length > 0;
    });
    if (fresh === 'other-browser')
      throw new SsoRefusal(
        401,
        'SSO_BROWSER_MISMATCH',
        'This sign-in was started in another browser: start again here',
      );
    if (!fresh) throw new SsoRefusal(401, 'SSO_REPLAYED', 'This response was already used');
    const attributes = profile as Record<string, unknown>;
    // The `email` attribute (else `mail`, else the NameID): one address, the first valid value when it has several.
    const email = firstValidEmail(attributes.email ?? attributes.mail ?? profile.nameID);
    if (email === null) throw new SsoRefusal(401, 'SSO_NO_EMAIL', 'The identity provider sent no valid e-mail address');
    return this.finish(req, connection, {
      subject: profile.nameID ?? email,
      email,
      groups: asGroups(attributes.groups),
    });
  }

  // ------------------------------------------------------- provisioning --

  /**
   * First sign-in creates the account and membership (admitted like an accepted invitation: refused while the
   * tenant is suspended, expired or deleted, or at its members limit); each sign-in applies the group mapping;
   * then a one-time code.
   */
  private async finish(req: HookRequest, connection: ConnectionRow, claims: Claims): Promise<HookResponse> {
    const tenantId = connection.tenant_id;
    const domain = claims.email.split('@')[1];
    if (!connection.allowed_domains.includes(domain)) {
      throw new SsoRefusal(
        403,
        'SSO_DOMAIN_NOT_ALLOWED',
        'This identity provider may not sign in addresses of that domain',
      );
    }
    // Only while the tenant still holds the domain (a verified domain can be removed or fail its recheck): before
    // anything about existing accounts is looked at.
    const [holds]: { held: boolean }[] = await withTenant(this.deps.ds, systemContext('sso', tenantId), (em) =>
      em.query(`SELECT ${tenantHoldsDomainSql('$1', '$2')} AS held`, [tenantId, domain]),
    );
    if (!holds?.held)
      throw new SsoRefusal(
        403,
        'SSO_DOMAIN_NOT_ALLOWED',
        'This tenant no longer holds a verified domain for that address',
      );
    if (this.deps.config.auth.SUPER_ADMIN_EMAILS.includes(claims.email)) {
      // Platform administrators sign in with their own credentials only.
      throw new SsoRefusal(403, 'SSO_ACCOUNT_RESERVED', 'This account cannot sign in through an identity provider');
    }
    const rule = connection.role_mapping.find((r) => claims.groups.includes(r.group));
    // A system role as the mapping says; a custom role (stored by id) on top of the system role `user`.
    const given = rule?.role ?? connection.default_role;
    const customRole = isSystemRole(given) ? null : given;
    const mapped = customRole ? 'user' : given;
    // Who this is, in one read: the account the provider signed in before, else one with the address,
    // and that account's role here and platform rights; and whether the custom role mapped to still exists.
    const [found]: {
      known: string | null;
      by_email: string | null;
      role: string | null;
      platform: boolean;
      custom_role: boolean;
    }[] = await withTenant(this.deps.ds, systemContext('sso', tenantId), (em) =>
      em.query(
        `WITH who AS (
             SELECT (SELECT user_id FROM identity.sso_identities WHERE tenant_id = $1 AND connection_id = $2 AND subject = $3) AS known,
                    (SELECT user_id FROM identity.credentials_for_login($4)) AS by_email)
           SELECT who.known, who.by_email,
                  (SELECT role FROM identity.memberships WHERE tenant_id = $1 AND user_id = coalesce(who.known, who.by_email)) AS role,
                  EXISTS (SELECT 1 FROM identity.platform_admins WHERE user_id = coalesce(who.known, who.by_email)) AS platform,
                  EXISTS (SELECT 1 FROM identity.roles WHERE tenant_id = $1 AND id = $5::uuid) AS custom_role
             FROM who`,
        [tenantId, connection.id, claims.subject, claims.email, isUuid(customRole) ? customRole : null],
      ),
    );
    const known = found.known ? { user_id: found.known } : undefined;
    const byEmail = !known && found.by_email ? [{ user_id: found.by_email }] : [];
    // A provider vouches for its own tenant's people only: an existing account it has not signed in
    // before is joined to it only if it is already a member here, not an owner, and holds no platform rights.
    if (found.platform)
      throw new SsoRefusal(403, 'SSO_ACCOUNT_RESERVED', 'This account cannot sign in through an identity provider');
    if (customRole && !found.custom_role) {
      throw new SsoRefusal(
        403,
        'SSO_ROLE_UNKNOWN',
        "The role this connection's mapping gives no longer exists: an admin of this tenant must correct the mapping",
      );
    }
    if (!known && byEmail[0] && (!found.role || found.role === 'owner')) {
      throw new SsoRefusal(
        409,
        'SSO_ACCOUNT_EXISTS',
        'An account with this e-mail address already exists: ask an admin of this tenant to invite it first',
      );
    }
    const userId = known?.user_id ?? byEmail[0]?.user_id ?? randomUUID();
    const created = !known && !byEmail[0];
    // An account made here has no password anyone knows: it signs in through its provider (or resets one).
    const unusableHash = created ? await hashPassword(randomBytes(32).toString('base64url')) : null;
    const code = `${tenantId}.${randomBytes(32).toString('base64url')}`;
    const ctx = { ...this.clientContext(req, tenantId), userId };
    let roleChanged = false;
    let joined = false;
    const events = await withTenant(this.deps.ds, ctx, async (em: EntityManager) => {
      const pending: string[] = [];
      if (created)
        await em.insert(
          User,
          em.create(User, {
            id: userId,
            email: claims.email,
            passwordHash: unusableHash!,
            emailVerifiedAt: new Date(),
          }),
        );
      if (!known) {
        await em.query(
          `INSERT INTO identity.sso_identities (tenant_id, connection_id, subject, user_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
          [tenantId, connection.id, claims.subject, userId],
        );
      }
      const membership = await em.findOneBy(IdentityMembership, { tenantId, userId });
      let role = membership?.role ?? mapped;
      if (!membership) {
        admitMember(tenantId);
        joined = true;
        await em.insert(IdentityMembership, { tenantId, userId, role });
        pending.push(
          await recordEvent(em, 'identity', {
            type: 'identity.member_added',
            tenantId,
            payload: { tenantId, userId, role },
          }),
        );
      } else if (membership.role !== 'owner' && membership.role !== mapped) {
        await em.update(IdentityMembership, { tenantId, userId }, { role: mapped });
        pending.push(
          await recordEvent(em, 'identity', {
            type: 'identity.member_role_changed',
            tenantId,
            payload: { tenantId, userId, role: mapped },
          }),
        );
        await audit(em, ctx, tenantId, {
          action: 'sso_role_sync',
          result: AuditResult.SUCCESS,
          target: `user:${userId}`,
          details: { before: membership.role, after: mapped },
        });
        role = mapped;
        roleChanged = true;
      }
      // The custom role the mapping gives now, and none this connection gave before (roles assigned by hand stay).
      if (role !== 'owner') {
        const taken = returningRows<{ role_id: string }>(
          await em.query(
            `DELETE FROM identity.user_roles WHERE tenant_id = $1 AND user_id = $2 AND sso_connection_id = $3 AND role_id IS DISTINCT FROM $4::uuid RETURNING role_id`,
            [tenantId, userId, connection.id, customRole],
          ),
        );
        const added = customRole
          ? returningRows<{ role_id: string }>(
              await em.query(
                `INSERT INTO identity.user_roles (tenant_id, user_id, role_id, sso_connection_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING role_id`,
                [tenantId, userId, customRole, connection.id],
              ),
            )
          : [];
        if (taken.length || added.length) {
          if (membership) {
            await audit(em, ctx, tenantId, {
              action: 'sso_role_sync',
              result: AuditResult.SUCCESS,
              target: `user:${userId}`,
              details: { customRolesTaken: taken.map((r) => r.role_id), customRolesGiven: added.map((r) => r.role_id) },
            });
          }
          roleChanged = true;
        }
      }
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
          provisioned: created || !membership,
        },
      });
      return pending;
    });
    if (joined) noteEffect(tenantId, 'members');
    if (events.length) await this.deps.outbox.deliverNow(events);
    // The provider changed their role: gateways read the tenant's rights again (open sockets reconnect).
    if (roleChanged) await announce(this.deps.pubsub, PERMISSIONS_CHANGED_TOPIC, [{ tenantId }]);
    const target = new URL(
      connection.redirect_url ?? `${this.deps.config.mail.APP_URL.replace(/\/$/, '')}/sso/callback`,
    );
    target.searchParams.set('code', code);
    return { status: 302, headers: { location: target.toString(), 'cache-control': 'no-store' }, body: '' };
  }
}
