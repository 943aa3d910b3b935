import type { Profile } from '@node-saml/node-saml';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { systemContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { returningRows } from '../../../kernel/db/values';
import type { HookRequest } from '../../../kernel/http/hooks';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { firstValidEmail } from '../users/email';
import type { SamlClientFactory } from './saml-client.factory';
import { ssoPaths, type ConnectionRow, type SamlSettings } from './sso-connections.service';
import { CLOCK_SKEW_MS, REQUEST_TTL_MS } from './sso-login.constants';
import { SsoRefusal } from './sso-login.errors';
import { asGroups, type Claims } from './sso-login.types';
import type { SsoRequestService } from './sso-requests.service';

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

/**
 * The SAML Assertion Consumer Service: the signed response and assertion (node-saml, see SamlClientFactory), then
 * what node-saml does not check: Issuer, Destination and Recipient; the request it answers used once and from the
 * browser that started it; an assertion id never accepted twice; a valid e-mail address.
 */
export class SamlResponseValidator {
  constructor(
    private readonly deps: SubgraphDeps,
    private readonly requests: SsoRequestService,
    private readonly samlClients: SamlClientFactory,
  ) {}

  async validate(
    req: HookRequest,
    tenantId: string,
    connectionId: string,
  ): Promise<{ connection: ConnectionRow; claims: Claims }> {
    const connection = await this.requests.callbackConnection(tenantId, connectionId, 'saml');
    const form = new URLSearchParams(req.body.toString('utf8'));
    const samlResponse = form.get('SAMLResponse');
    if (!samlResponse) throw new SsoRefusal(400, 'SSO_SAML_REJECTED', 'No SAMLResponse was posted');
    const acsUrl = this.requests.base(req) + ssoPaths(tenantId, connectionId).acs;
    const profile = await this.verifiedProfile(req, connection, samlResponse);
    const assertion = this.checkIssuerAndAddress(connection, samlResponse, profile, acsUrl);
    await this.consumeOnce(req, tenantId, connectionId, profile, assertion);
    return { connection, claims: this.claimsOf(profile) };
  }

  private async verifiedProfile(req: HookRequest, connection: ConnectionRow, samlResponse: string): Promise<Profile> {
    let profile: Profile | null;
    try {
      ({ profile } = await this.samlClients
        .saml(req, connection)
        .validatePostResponseAsync({ SAMLResponse: samlResponse }));
    } catch (err) {
      throw new SsoRefusal(
        401,
        'SSO_SAML_REJECTED',
        `The identity provider's response was refused: ${(err as Error).message}`,
      );
    }
    if (!profile) throw new SsoRefusal(401, 'SSO_SAML_REJECTED', 'The response signed nobody in');
    return profile;
  }

  /**
   * Checked here (node-saml does not): the signed response and its assertion come from the connection's IdP
   * (Issuer) and were meant for this endpoint (Destination, Recipient). The response's root element is the one
   * whose signature node-saml verified; the assertion is the signed one it read. Returns the assertion.
   */
  private checkIssuerAndAddress(
    connection: ConnectionRow,
    samlResponse: string,
    profile: Profile,
    acsUrl: string,
  ): Element {
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
    return assertion;
  }

  /** The request it answers (InResponseTo) is used up, from the same browser; the assertion id is never accepted twice. */
  private async consumeOnce(
    req: HookRequest,
    tenantId: string,
    connectionId: string,
    profile: Profile,
    assertion: Element,
  ): Promise<void> {
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
      if (request[0] && !this.requests.sameBrowser(req, request[0].browser_hash, 'saml'))
        return 'other-browser' as const;
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
  }

  private claimsOf(profile: Profile): Claims {
    const attributes = profile as Record<string, unknown>;
    // The `email` attribute (else `mail`, else the NameID): one address, the first valid value when it has several.
    const email = firstValidEmail(attributes.email ?? attributes.mail ?? profile.nameID);
    if (email === null) throw new SsoRefusal(401, 'SSO_NO_EMAIL', 'The identity provider sent no valid e-mail address');
    return {
      subject: profile.nameID ?? email,
      email,
      groups: asGroups(attributes.groups),
    };
  }
}
