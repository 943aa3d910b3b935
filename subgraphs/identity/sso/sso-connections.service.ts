import { X509Certificate, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { DOMParser, type Document, type Element } from '@xmldom/xmldom';
import type * as Oidc from 'openid-client';
import type { EntityManager } from 'typeorm';
import { hasPermission } from '../../../kernel/auth';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { isUuid, returningRows } from '../../../kernel/db/values';
import { dataKey } from '../../../kernel/keys';
import { logger } from '../../../kernel/log';
import { sealSecret } from '../../../kernel/secret-box';
import { PERMISSIONS_CHANGED_TOPIC } from '../../../kernel/contracts/topics';
import type { Config } from '../../../kernel/config';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TEXT_LIMITS, cleanName, lengthRange } from '../../../kernel/text';
import { AuditResult } from '../audit/audit-event.entity';
import { audit } from '../audit/audit.service';
import { IdentityErrorCode, identityError } from '../identity.errors';
import { permissionsFor } from '../rbac/permissions';
import {
  SsoConnection,
  SsoKind,
  SsoRoleRule,
  type OidcConnectionInput,
  type SamlConnectionInput,
  type UpdateSsoConnectionInput,
} from './sso.types';

const log = logger('identity.sso');

/** System roles an identity provider may give (never owner); a mapping rule may also give a custom role of the tenant. */
export const SSO_ROLES = ['admin', 'member', 'user'];

export interface SamlSettings {
  idpEntityId: string;
  ssoUrl: string;
  certificate: string;
}

export interface OidcSettings {
  issuer: string;
  clientId: string;
  scopes: string[];
  groupsClaim: string;
}

export interface ConnectionRow {
  tenant_id: string;
  id: string;
  kind: 'saml' | 'oidc';
  name: string;
  enabled: boolean;
  settings: SamlSettings | OidcSettings;
  secret_sealed: string | null;
  role_mapping: { group: string; role: string }[];
  default_role: string;
  redirect_url: string | null;
  allowed_domains: string[];
  created_at: Date;
}

/** Our SAML entity id for a connection (a URN: independent of where the gateway is reached). */
export function spEntityId(tenantId: string, connectionId: string): string {
  return `urn:nexus:sso:${tenantId}:${connectionId}`;
}

export const ssoPaths = (tenantId: string, id: string) => ({
  login: `/sso/start?tenant=${tenantId}&connection=${id}`,
  /** One callback for every connection (the state names tenant and connection). */
  oidcCallback: `/sso/oidc/callback`,
  acs: `/sso/saml/acs/${tenantId}/${id}`,
  metadata: `/sso/saml/metadata/${tenantId}/${id}`,
});

export function sealContext(tenantId: string, id: string): string {
  return `identity.sso:${tenantId}:${id}`;
}

/** Outside production, providers on this host (loopback, plain http) are accepted: local IdPs in development and tests. */
export function localProvidersAllowed(config: Config): boolean {
  return config.server.NODE_ENV !== 'production';
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
}

/** Private, loopback and link-local addresses: a production connection may not point the platform at them. */
function isInternalAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (isIP(h) === 4) {
    const [a, b] = h.split('.').map(Number);
    return (
      a === 10 ||
      a === 127 ||
      a === 0 ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  if (isIP(h) === 6) return h === '::1' || /^f[cd]/i.test(h) || /^fe80/i.test(h) || h.startsWith('::ffff:');
  return h === 'localhost' || h.endsWith('.localhost') || h.endsWith('.internal');
}

/** Whether plain http is acceptable for this provider URL (a provider on this host, outside production only). */
function insecureAllowed(url: string, allowLocal: boolean): boolean {
  return allowLocal && isLoopback(new URL(url).hostname);
}

export function toView(r: ConnectionRow): SsoConnection {
  const paths = ssoPaths(r.tenant_id, r.id);
  const saml = r.kind === 'saml' ? (r.settings as SamlSettings) : null;
  const oidcSettings = r.kind === 'oidc' ? (r.settings as OidcSettings) : null;
  return Object.assign(new SsoConnection(), {
    id: r.id,
    kind: r.kind as SsoKind,
    name: r.name,
    enabled: r.enabled,
    roleMapping: r.role_mapping.map((m) => Object.assign(new SsoRoleRule(), m)),
    defaultRole: r.default_role,
    redirectUrl: r.redirect_url,
    allowedDomains: r.allowed_domains,
    loginPath: paths.login,
    issuer: oidcSettings?.issuer ?? null,
    callbackPath: oidcSettings ? paths.oidcCallback : null,
    spEntityId: saml ? spEntityId(r.tenant_id, r.id) : null,
    acsPath: saml ? paths.acs : null,
    metadataPath: saml ? paths.metadata : null,
    idpEntityId: saml?.idpEntityId ?? null,
    createdAt: r.created_at,
  });
}

function invalid(message: string): never {
  throw identityError(IdentityErrorCode.INVALID_SSO_CONNECTION, message);
}

function pemOf(certificate: string): string {
  const body = certificate.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  const pem = `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)?.join('\n') ?? ''}\n-----END CERTIFICATE-----\n`;
  try {
    new X509Certificate(pem);
  } catch {
    invalid('The signing certificate cannot be read (give PEM or base64 DER)');
  }
  return pem;
}

function httpsUrl(value: string, what: string, allowLocal: boolean): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    invalid(`${what} is not a URL`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && insecureAllowed(value, allowLocal)))
    invalid(`${what} must use https`);
  if (!allowLocal && isInternalAddress(url.hostname)) invalid(`${what} may not point at an internal address`);
  return url.toString();
}

const SAML_MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DSIG = 'http://www.w3.org/2000/09/xmldsig#';
const REDIRECT_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

/** Entity id, SSO URL (HTTP-Redirect) and signing certificate from IdP metadata; a clear error when one is missing. */
export function readIdpMetadata(xml: string): SamlSettings {
  let doc: Document;
  try {
    doc = new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') throw new Error(message);
      },
    }).parseFromString(xml, 'text/xml');
  } catch (err) {
    invalid(`The metadata is not well-formed XML (${(err as Error).message.split('\n')[0]})`);
  }
  const entity = doc.documentElement;
  if (!entity || entity.localName !== 'EntityDescriptor' || entity.namespaceURI !== SAML_MD)
    invalid('The metadata has no EntityDescriptor');
  const idp = entity.getElementsByTagNameNS(SAML_MD, 'IDPSSODescriptor')[0];
  if (!idp) invalid('The metadata describes no identity provider (IDPSSODescriptor)');
  const sso = Array.from(idp.getElementsByTagNameNS(SAML_MD, 'SingleSignOnService') as ArrayLike<Element>).find(
    (e) => e.getAttribute('Binding') === REDIRECT_BINDING,
  );
  if (!sso?.getAttribute('Location')) invalid('The metadata has no SingleSignOnService with the HTTP-Redirect binding');
  const key = Array.from(idp.getElementsByTagNameNS(SAML_MD, 'KeyDescriptor') as ArrayLike<Element>).find(
    (k) => (k.getAttribute('use') ?? 'signing') === 'signing',
  );
  const cert = key?.getElementsByTagNameNS(DSIG, 'X509Certificate')[0]?.textContent;
  if (!cert) invalid('The metadata has no signing certificate');
  const entityId = (entity.getAttribute('entityID') ?? '').trim();
  if (!entityId) invalid('The metadata has no entityID');
  return { idpEntityId: entityId, ssoUrl: sso.getAttribute('Location')!, certificate: cert };
}

let oidcModule: Promise<typeof Oidc> | undefined;

/** openid-client (an ECMAScript module, loaded on first use). */
export function openidClient(): Promise<typeof Oidc> {
  return (oidcModule ??= import('openid-client'));
}

/**
 * Discovers an OIDC provider; allows plain http only on loopback. ID tokens from the token endpoint are checked
 * against the provider's published keys (jwks_uri): openid-client verifies their signature only when asked.
 */
export async function discover(
  issuer: string,
  clientId: string,
  clientSecret: string,
  allowLocal: boolean,
): Promise<Oidc.Configuration> {
  const oidc = await openidClient();
  const config = await oidc.discovery(new URL(issuer), clientId, clientSecret, undefined, {
    execute: insecureAllowed(issuer, allowLocal) ? [oidc.allowInsecureRequests] : [],
    timeout: 5,
  });
  oidc.enableNonRepudiationChecks(config);
  return config;
}

/** While the tenant requires single sign-on, its last enabled connection can be neither disabled nor deleted. */
async function keepOneWhileRequired(em: EntityManager, tenantId: string, id: string): Promise<void> {
  const [policy]: { require_sso: boolean }[] = await em.query(
    `SELECT require_sso FROM identity.tenant_security_policies WHERE tenant_id = $1`,
    [tenantId],
  );
  if (!policy?.require_sso) return;
  const [other]: unknown[] = await em.query(
    `SELECT 1 FROM identity.sso_connections WHERE tenant_id = $1 AND enabled AND id <> $2`,
    [tenantId, id],
  );
  if (!other)
    throw identityError(
      IdentityErrorCode.POLICY_UNMET,
      'The tenant requires single sign-on: keep one connection enabled',
    );
}

/** Name, group-to-role rules, default role, redirect URL and allowed domains of a connection, checked. */
function checkedOptions(
  input: {
    name?: string | null;
    roleMapping?: { group: string; role: string }[] | null;
    defaultRole?: string | null;
    redirectUrl?: string | null;
    allowedDomains?: string[] | null;
  },
  allowLocal: boolean,
) {
  const name = cleanName(input.name ?? '');
  if (name.length < 1 || name.length > TEXT_LIMITS.ssoConnectionName)
    invalid(`Name must be ${lengthRange(TEXT_LIMITS.ssoConnectionName)}`);
  const mapping = (input.roleMapping ?? []).map((r) => ({
    group: (r.group ?? '').trim(),
    role: (r.role ?? '').trim(),
  }));
  const defaultRole = input.defaultRole ?? 'member';
  if (!SSO_ROLES.includes(defaultRole)) invalid(`The default role must be one of ${SSO_ROLES.join(', ')}`);
  if (mapping.some((m) => m.role === 'owner')) invalid('Ownership cannot be given by an identity provider');
  if (mapping.some((m) => !m.group)) invalid('Every mapping rule needs a group');
  if (mapping.length > 50 || mapping.some((m) => m.group.length > TEXT_LIMITS.ssoGroup))
    invalid(`At most 50 mapping rules, each group ${lengthRange(TEXT_LIMITS.ssoGroup)}`);
  const redirectUrl = input.redirectUrl ? httpsUrl(input.redirectUrl, 'The redirect URL', allowLocal) : null;
  const allowedDomains = [
    ...new Set((input.allowedDomains ?? []).map((d) => d.trim().toLowerCase().replace(/^@/, ''))),
  ];
  if (allowedDomains.length === 0) invalid('Name the e-mail domains this provider may sign in (allowedDomains)');
  if (allowedDomains.some((d) => !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(d)))
    invalid('allowedDomains must be domain names such as example.com');
  return { name, mapping, defaultRole, redirectUrl, allowedDomains };
}

/**
 * Whether an e-mail domain is one the tenant holds: verified by it (learnt from tenancy), or a subdomain of one. SQL
 * yielding a boolean for the tenant at `$tenant` and the domain at `$domain`.
 */
export function tenantHoldsDomainSql(tenant: string, domain: string): string {
  return `EXISTS (SELECT 1 FROM identity.tenant_domains d WHERE d.tenant_id = ${tenant} AND d.verified
                    AND (d.domain = ${domain} OR right(${domain}, length(d.domain) + 1) = '.' || d.domain))`;
}

/**
 * INVALID_SSO_CONNECTION unless every allowed domain is one the tenant holds (see `tenantHoldsDomainSql`): a provider
 * signs in the tenant's own addresses only, so no tenant learns through one which addresses elsewhere have accounts.
 */
async function assertHeldDomains(em: EntityManager, tenantId: string, domains: string[]): Promise<void> {
  const rows: { domain: string; held: boolean }[] = await em.query(
    `SELECT a.domain, ${tenantHoldsDomainSql('$1', 'a.domain')} AS held FROM unnest($2::text[]) AS a(domain)`,
    [tenantId, domains],
  );
  const foreign = rows.filter((r) => !r.held).map((r) => r.domain);
  if (foreign.length)
    invalid(
      `allowedDomains must be domains this tenant has verified (addDomain, verifyDomain) or their subdomains; not: ${foreign.join(', ')}`,
    );
}

/** PERMISSION_ESCALATION unless the caller holds every one of these rights: nobody hands out through a provider what they could not assign themselves. */
function assertGivable(ctx: RequestContext, permissions: readonly string[]): void {
  const beyond = [...new Set(permissions)].filter((p) => !hasPermission(ctx, p));
  if (beyond.length)
    throw identityError(
      IdentityErrorCode.PERMISSION_ESCALATION,
      `You cannot have a provider give rights you lack: ${beyond.join(', ')}`,
    );
}

/**
 * Each rule's role as stored: a system role an identity provider may give as is, or the id of a custom role of this
 * tenant, named by its id or its name. UNKNOWN_ROLE for any other; PERMISSION_ESCALATION for a role, system or
 * custom, with rights the caller lacks.
 */
async function mappedRoles(
  em: EntityManager,
  ctx: RequestContext,
  tenantId: string,
  mapping: { group: string; role: string }[],
): Promise<{ group: string; role: string }[]> {
  const custom = mapping.some((m) => !SSO_ROLES.includes(m.role))
    ? ((await em.query(`SELECT id, name, permissions FROM identity.roles WHERE tenant_id = $1`, [tenantId])) as {
        id: string;
        name: string;
        permissions: string[];
      }[])
    : [];
  return mapping.map((rule) => {
    if (SSO_ROLES.includes(rule.role)) {
      assertGivable(ctx, permissionsFor([rule.role]));
      return rule;
    }
    const role = custom.find(
      (r) => r.id === rule.role.toLowerCase() || r.name.toLowerCase() === rule.role.toLowerCase(),
    );
    if (!role) {
      throw identityError(
        IdentityErrorCode.UNKNOWN_ROLE,
        `Role "${rule.role}" is neither ${SSO_ROLES.join(', ')} nor a custom role of this tenant (give its id or name)`,
      );
    }
    assertGivable(ctx, role.permissions);
    return { group: rule.group, role: role.id };
  });
}

/**
 * Takes back the custom roles a connection gave that its mapping no longer gives (all of them for an empty one), in
 * the caller's transaction; roles assigned by hand are not the connection's and stay.
 */
async function takeBackRoles(
  em: EntityManager,
  tenantId: string,
  connectionId: string,
  mapping: { role: string }[],
): Promise<{ userId: string; roleId: string }[]> {
  const kept = mapping.map((r) => r.role).filter(isUuid);
  return returningRows<{ userId: string; roleId: string }>(
    await em.query(
      `DELETE FROM identity.user_roles WHERE tenant_id = $1 AND sso_connection_id = $2 AND NOT (role_id = ANY($3::uuid[]))
       RETURNING user_id AS "userId", role_id AS "roleId"`,
      [tenantId, connectionId, kept],
    ),
  );
}

/** Tenant admins (`sso:manage`) add SAML and OIDC connections, checked when saved; every change is audited. */
export class SsoConnectionService {
  private readonly allowLocal: boolean;
  constructor(private readonly deps: SubgraphDeps) {
    this.allowLocal = localProvidersAllowed(deps.config);
  }

  list(ctx: RequestContext): Promise<SsoConnection[]> {
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const rows: ConnectionRow[] = await em.query(
        `SELECT * FROM identity.sso_connections WHERE tenant_id = $1 ORDER BY created_at`,
        [tenantId],
      );
      return rows.map(toView);
    });
  }

  async createSaml(ctx: RequestContext, input: SamlConnectionInput): Promise<SsoConnection> {
    let settings: SamlSettings;
    if (input.metadataXml) settings = readIdpMetadata(input.metadataXml);
    else {
      if (!input.idpEntityId?.trim() || !input.ssoUrl || !input.certificate)
        invalid('Give the IdP metadata, or its entity id, SSO URL and signing certificate');
      settings = { idpEntityId: input.idpEntityId.trim(), ssoUrl: input.ssoUrl, certificate: input.certificate };
    }
    settings = {
      ...settings,
      ssoUrl: httpsUrl(settings.ssoUrl, 'The SSO URL', this.allowLocal),
      certificate: pemOf(settings.certificate),
    };
    if (settings.idpEntityId.length > TEXT_LIMITS.ssoIdentifier)
      invalid(`The IdP entity id must be ${lengthRange(TEXT_LIMITS.ssoIdentifier)}`);
    return this.insert(ctx, SsoKind.SAML, input, settings, null);
  }

  async createOidc(ctx: RequestContext, input: OidcConnectionInput): Promise<SsoConnection> {
    const issuer = httpsUrl(input.issuer ?? '', 'The issuer', this.allowLocal).replace(/\/$/, '');
    if (!input.clientId || !input.clientSecret) invalid('Give the client id and secret');
    const identifiers = [input.clientId, input.groupsClaim ?? '', ...(input.scopes ?? [])];
    if ((input.scopes?.length ?? 0) > 20 || identifiers.some((v) => v.length > TEXT_LIMITS.ssoIdentifier)) {
      invalid(
        `The client id, groups claim and each of at most 20 scopes must be ${lengthRange(TEXT_LIMITS.ssoIdentifier, 0)}`,
      );
    }
    try {
      await discover(issuer, input.clientId, input.clientSecret, this.allowLocal);
    } catch (err) {
      // The cause is logged, not shown: the answer must not make this a probe of other hosts.
      log.warn({ err, issuer }, 'OIDC discovery failed');
      invalid(`The provider's discovery document could not be read at ${issuer}/.well-known/openid-configuration`);
    }
    const scopes = input.scopes?.length ? input.scopes : ['openid', 'email', 'profile'];
    if (!scopes.includes('openid')) invalid('Scopes must include openid');
    const settings: OidcSettings = {
      issuer,
      clientId: input.clientId,
      scopes,
      groupsClaim: input.groupsClaim || 'groups',
    };
    return this.insert(ctx, SsoKind.OIDC, input, settings, input.clientSecret);
  }

  /**
   * Name, enabled, role mapping, default role, redirect URL; the provider's settings are replaced by a new connection.
   * Custom roles the connection gave and no longer gives (a rule removed, or the connection disabled) are taken back
   * at once, not at their holders' next sign-in.
   */
  async update(ctx: RequestContext, id: string, input: UpdateSsoConnectionInput): Promise<SsoConnection> {
    if (!isUuid(id)) throw identityError(IdentityErrorCode.SSO_CONNECTION_NOT_FOUND);
    return this.announcingRolesTaken(ctx, async (em, tenantId) => {
      const [current]: ConnectionRow[] = await em.query(
        `SELECT * FROM identity.sso_connections WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
        [tenantId, id],
      );
      if (!current) throw identityError(IdentityErrorCode.SSO_CONNECTION_NOT_FOUND);
      const next = checkedOptions(
        {
          name: input.name ?? current.name,
          roleMapping: input.roleMapping ?? current.role_mapping,
          defaultRole: input.defaultRole ?? current.default_role,
          redirectUrl: input.redirectUrl === undefined ? current.redirect_url : input.redirectUrl,
          allowedDomains: input.allowedDomains ?? current.allowed_domains,
        },
        this.allowLocal,
      );
      // A new mapping or default role is checked against the tenant's roles and the caller's rights now; one left as
      // it was stays (disabling always works).
      if (input.roleMapping) next.mapping = await mappedRoles(em, ctx, tenantId, next.mapping);
      if (input.defaultRole) assertGivable(ctx, permissionsFor([next.defaultRole]));
      if (input.allowedDomains) await assertHeldDomains(em, tenantId, next.allowedDomains);
      const enabled = input.enabled ?? current.enabled;
      if (!enabled && current.enabled) await keepOneWhileRequired(em, tenantId, id);
      const [row] = returningRows<ConnectionRow>(
        await em.query(
          `UPDATE identity.sso_connections SET name = $3, enabled = $4, role_mapping = $5, default_role = $6, redirect_url = $7, allowed_domains = $8
            WHERE tenant_id = $1 AND id = $2 RETURNING *`,
          [
            tenantId,
            id,
            next.name,
            enabled,
            JSON.stringify(next.mapping),
            next.defaultRole,
            next.redirectUrl,
            next.allowedDomains,
          ],
        ),
      );
      const taken = await takeBackRoles(em, tenantId, id, enabled ? next.mapping : []);
      const summary = (r: ConnectionRow) => ({
        name: r.name,
        enabled: r.enabled,
        roleMapping: r.role_mapping,
        defaultRole: r.default_role,
        redirectUrl: r.redirect_url,
        allowedDomains: r.allowed_domains,
      });
      await audit(em, ctx, tenantId, {
        action: 'sso_connection_update',
        result: AuditResult.SUCCESS,
        target: `sso:${id}`,
        details: {
          before: summary(current),
          after: summary(row),
          ...(taken.length ? { customRolesTaken: taken } : {}),
        },
      });
      return { result: toView(row), rolesTaken: taken.length > 0 };
    });
  }

  /** Deletes a connection; the custom roles it gave are taken back at once. */
  async delete(ctx: RequestContext, id: string): Promise<boolean> {
    if (!isUuid(id)) throw identityError(IdentityErrorCode.SSO_CONNECTION_NOT_FOUND);
    return this.announcingRolesTaken(ctx, async (em, tenantId) => {
      await keepOneWhileRequired(em, tenantId, id);
      const gone = returningRows(
        await em.query(`DELETE FROM identity.sso_connections WHERE tenant_id = $1 AND id = $2 RETURNING id`, [
          tenantId,
          id,
        ]),
      );
      if (gone.length === 0) throw identityError(IdentityErrorCode.SSO_CONNECTION_NOT_FOUND);
      const taken = await takeBackRoles(em, tenantId, id, []);
      await audit(em, ctx, tenantId, {
        action: 'sso_connection_delete',
        result: AuditResult.SUCCESS,
        target: `sso:${id}`,
        details: taken.length ? { customRolesTaken: taken } : {},
      });
      return { result: true, rolesTaken: taken.length > 0 };
    });
  }

  /** Runs a change in the tenant; when it took roles back, gateways read the tenant's rights again (as for any role change). */
  private async announcingRolesTaken<T>(
    ctx: RequestContext,
    work: (em: EntityManager, tenantId: string) => Promise<{ result: T; rolesTaken: boolean }>,
  ): Promise<T> {
    const { result, rolesTaken } = await withTenant(this.deps.ds, ctx, work);
    if (rolesTaken) await this.deps.pubsub.publish(PERMISSIONS_CHANGED_TOPIC, { tenantId: ctx.tenantId! });
    return result;
  }

  private insert(
    ctx: RequestContext,
    kind: SsoKind,
    input: {
      name: string;
      roleMapping?: SsoRoleRule[] | null;
      defaultRole?: string | null;
      redirectUrl?: string | null;
      allowedDomains?: string[] | null;
    },
    settings: SamlSettings | OidcSettings,
    secret: string | null,
  ): Promise<SsoConnection> {
    const { name, mapping: rules, defaultRole, redirectUrl, allowedDomains } = checkedOptions(input, this.allowLocal);
    return withTenant(this.deps.ds, ctx, async (em: EntityManager, tenantId) => {
      const mapping = await mappedRoles(em, ctx, tenantId, rules);
      assertGivable(ctx, permissionsFor([defaultRole]));
      await assertHeldDomains(em, tenantId, allowedDomains);
      const id = randomUUID();
      const sealed = secret === null ? null : sealSecret(dataKey(this.deps.keys), secret, sealContext(tenantId, id));
      const [row]: ConnectionRow[] = await em.query(
        `INSERT INTO identity.sso_connections (tenant_id, id, kind, name, settings, secret_sealed, role_mapping, default_role, redirect_url, allowed_domains, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
        [
          tenantId,
          id,
          kind,
          name,
          JSON.stringify(settings),
          sealed,
          JSON.stringify(mapping),
          defaultRole,
          redirectUrl,
          allowedDomains,
          ctx.userId,
        ],
      );
      await audit(em, ctx, tenantId, {
        action: 'sso_connection_create',
        result: AuditResult.SUCCESS,
        target: `sso:${id}`,
        details: { kind, name, settings, roleMapping: mapping, defaultRole, allowedDomains },
      });
      return toView(row);
    });
  }
}
