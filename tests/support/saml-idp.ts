import { randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { DOMParser, XMLSerializer, onErrorStopParsing, type Document, type Element } from '@xmldom/xmldom';
import { generate } from 'selfsigned';
import { SignedXml } from 'xml-crypto';

/** A user the IdP asserts: NameID (emailAddress format) plus the attributes "email" and "groups". */
export interface SamlUser {
  nameId: string;
  /** The "email" attribute; several values make it multi-valued (in this order). */
  email: string | string[];
  /** Multi-valued "groups" attribute; omitted from the assertion when empty. */
  groups?: string[];
}

/**
 * Where the unsigned attacker assertion goes in an XML signature wrapping response:
 * - 'sibling' (default): before the signed assertion, both direct children of the Response, so the attacker's is first;
 * - 'nested': the attacker's assertion replaces the signed one in the Response and carries it inside its own Advice;
 * - 'response': a new unsigned Response with the attacker's assertion wraps the whole signed Response in its Extensions.
 */
export type WrapStyle = 'sibling' | 'nested' | 'response';

export interface ResponseOptions {
  /** Our ACS URL (Response@Destination and SubjectConfirmationData@Recipient). */
  destination: string;
  /** SubjectConfirmationData@Recipient when it should differ from `destination`. */
  recipient?: string;
  /** The Response's Issuer; null leaves it out (it is optional there). Default: the IdP's entity id. */
  responseIssuer?: string | null;
  /** The Assertion's Issuer. Default: the IdP's entity id. */
  assertionIssuer?: string;
  /** Our SP entity id (AudienceRestriction). */
  audience: string;
  /** The AuthnRequest ID (Response@InResponseTo and SubjectConfirmationData@InResponseTo); null or absent = unsolicited. */
  inResponseTo?: string | null;
  /** NameID (emailAddress format) + attributes "email" and "groups" (multi-valued). */
  user: SamlUser;
  /** Response, Assertion and AuthnStatement instants; default now. */
  issueInstant?: Date;
  /** Conditions@NotBefore; default issueInstant - 1 min. */
  notBefore?: Date;
  /** Conditions@NotOnOrAfter and SubjectConfirmationData@NotOnOrAfter; default issueInstant + 5 min. */
  notOnOrAfter?: Date;
  /** Default: fresh `_`+hex ids. */
  assertionId?: string;
  responseId?: string;
  /** Default 'both' (assertion signed first, then the response). */
  sign?: 'both' | 'assertion' | 'response' | 'none';
  /** 'stranger': a different key pair whose certificate is put in KeyInfo (an attacker's own certificate). Default 'idp'. */
  signWith?: 'idp' | 'stranger';
  /**
   * XML signature wrapping: the response is first built and signed for `user` as the other options say, then an
   * extra UNSIGNED assertion for `wrap` (same destination, audience, InResponseTo and validity) is injected as `wrapStyle` says.
   */
  wrap?: SamlUser;
  /** Default 'sibling'. */
  wrapStyle?: WrapStyle;
}

export interface TestSamlIdp {
  /** e.g. https://idp.example.test/<random> */
  entityId: string;
  /** e.g. https://idp.example.test/<random>/sso (never fetched) */
  ssoUrl: string;
  /** The IdP signing certificate (PEM). */
  certificatePem: string;
  /** EntityDescriptor with IDPSSODescriptor: signing KeyDescriptor, NameIDFormat emailAddress, SingleSignOnService HTTP-Redirect + HTTP-POST at ssoUrl. */
  metadataXml: string;
  /** Parses the AuthnRequest our SP sent via the HTTP-Redirect binding (SAMLRequest = base64 of raw DEFLATE; RelayState). */
  readRequest(redirectUrl: string): {
    id: string;
    issuer: string;
    acsUrl: string | null;
    destination: string | null;
    relayState: string | null;
  };
  /** Base64 SAMLResponse, as the HTTP-POST binding carries it. */
  response(options: ResponseOptions): string;
}

const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
  xs: 'http://www.w3.org/2001/XMLSchema',
};
const NAMEID_EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const BINDING_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const BINDING_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const CM_BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const ATTRNAME_BASIC = 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic';
const AC_PASSWORD = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';

const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

const RESPONSE_XPATH = "/*[local-name(.)='Response' and namespace-uri(.)='urn:oasis:names:tc:SAML:2.0:protocol']";
const ASSERTION_XPATH = `${RESPONSE_XPATH}/*[local-name(.)='Assertion' and namespace-uri(.)='urn:oasis:names:tc:SAML:2.0:assertion']`;
const issuerOf = (xpath: string) =>
  `${xpath}/*[local-name(.)='Issuer' and namespace-uri(.)='urn:oasis:names:tc:SAML:2.0:assertion']`;

interface KeyPair {
  privateKeyPem: string;
  certificatePem: string;
}

/** A SAML 2.0 identity provider that signs responses locally; nothing is served over the network. */
export async function createSamlIdp(): Promise<TestSamlIdp> {
  const base = `https://idp.example.test/${randomBytes(8).toString('hex')}`;
  const entityId = base;
  const ssoUrl = `${base}/sso`;
  const [idpKeys, strangerKeys] = await Promise.all([keyPair('idp.example.test'), keyPair('idp.example.test')]);

  const metadataXml =
    `<?xml version="1.0" encoding="UTF-8"?>` +
    `<md:EntityDescriptor xmlns:md="${NS.metadata}" xmlns:ds="${NS.dsig}" entityID="${esc(entityId)}">` +
    `<md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="${NS.protocol}">` +
    `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${pemBody(idpKeys.certificatePem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
    `<md:NameIDFormat>${NAMEID_EMAIL}</md:NameIDFormat>` +
    `<md:SingleSignOnService Binding="${BINDING_REDIRECT}" Location="${esc(ssoUrl)}"/>` +
    `<md:SingleSignOnService Binding="${BINDING_POST}" Location="${esc(ssoUrl)}"/>` +
    `</md:IDPSSODescriptor>` +
    `</md:EntityDescriptor>`;

  return {
    entityId,
    ssoUrl,
    certificatePem: idpKeys.certificatePem,
    metadataXml,
    readRequest: readRedirectRequest,
    response(options) {
      const keys = options.signWith === 'stranger' ? strangerKeys : idpKeys;
      return Buffer.from(buildResponse(entityId, keys, options), 'utf8').toString('base64');
    },
  };
}

async function keyPair(commonName: string): Promise<KeyPair> {
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 24 * 3600_000),
    notAfterDate: new Date(now + 365 * 24 * 3600_000),
  });
  return { privateKeyPem: pems.private, certificatePem: pems.cert };
}

function readRedirectRequest(redirectUrl: string): ReturnType<TestSamlIdp['readRequest']> {
  const url = new URL(redirectUrl);
  const encoded = url.searchParams.get('SAMLRequest');
  if (!encoded) throw new Error(`no SAMLRequest in ${redirectUrl}`);
  const xml = inflateRawSync(Buffer.from(encoded, 'base64')).toString('utf8');
  const doc = parseXml(xml);
  const root = doc.documentElement;
  if (!root || root.localName !== 'AuthnRequest' || root.namespaceURI !== NS.protocol) {
    throw new Error(`SAMLRequest is not a samlp:AuthnRequest: ${xml}`);
  }
  const id = root.getAttribute('ID');
  if (!id) throw new Error(`AuthnRequest has no ID: ${xml}`);
  const issuer = childElements(root).find((e) => e.localName === 'Issuer' && e.namespaceURI === NS.assertion);
  return {
    id,
    issuer: issuer?.textContent?.trim() ?? '',
    acsUrl: root.getAttribute('AssertionConsumerServiceURL'),
    destination: root.getAttribute('Destination'),
    relayState: url.searchParams.get('RelayState'),
  };
}

function buildResponse(idpEntityId: string, keys: KeyPair, options: ResponseOptions): string {
  const sign = options.sign ?? 'both';
  const issueInstant = options.issueInstant ?? new Date();
  const times = {
    issueInstant,
    notBefore: options.notBefore ?? new Date(issueInstant.getTime() - 60_000),
    notOnOrAfter: options.notOnOrAfter ?? new Date(issueInstant.getTime() + 5 * 60_000),
  };
  const inResponseTo = options.inResponseTo ?? null;
  const assertionId = options.assertionId ?? newId();
  const responseId = options.responseId ?? newId();

  const assertionIssuer = options.assertionIssuer ?? idpEntityId;
  const responseIssuer = options.responseIssuer === undefined ? idpEntityId : options.responseIssuer;
  const assertion = assertionXml({
    ...options,
    ...times,
    idpEntityId: assertionIssuer,
    inResponseTo,
    id: assertionId,
    user: options.user,
  });
  let xml = responseXml({
    id: responseId,
    idpEntityId: responseIssuer,
    destination: options.destination,
    inResponseTo,
    issueInstant,
    content: assertion,
  });
  if (sign === 'both' || sign === 'assertion') xml = signElement(xml, ASSERTION_XPATH, keys);
  if (sign === 'both' || sign === 'response') xml = signElement(xml, RESPONSE_XPATH, keys, responseIssuer !== null);

  if (options.wrap) {
    const evil = assertionXml({
      ...options,
      ...times,
      idpEntityId: assertionIssuer,
      inResponseTo,
      id: newId(),
      user: options.wrap,
    });
    xml = wrapSignedResponse(xml, evil, options.wrapStyle ?? 'sibling', {
      idpEntityId,
      destination: options.destination,
      inResponseTo,
      issueInstant,
    });
  }
  return xml;
}

function responseXml(r: {
  id: string;
  idpEntityId: string | null;
  destination: string;
  inResponseTo: string | null;
  issueInstant: Date;
  content: string;
  extensions?: string;
}): string {
  return (
    `<samlp:Response xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${esc(r.id)}" Version="2.0" IssueInstant="${r.issueInstant.toISOString()}" ` +
    `Destination="${esc(r.destination)}"${r.inResponseTo !== null ? ` InResponseTo="${esc(r.inResponseTo)}"` : ''}>` +
    (r.idpEntityId !== null ? `<saml:Issuer>${esc(r.idpEntityId)}</saml:Issuer>` : '') +
    (r.extensions !== undefined ? `<samlp:Extensions>${r.extensions}</samlp:Extensions>` : '') +
    `<samlp:Status><samlp:StatusCode Value="${STATUS_SUCCESS}"/></samlp:Status>` +
    r.content +
    `</samlp:Response>`
  );
}

function assertionXml(a: {
  id: string;
  idpEntityId: string;
  destination: string;
  recipient?: string;
  audience: string;
  inResponseTo: string | null;
  user: SamlUser;
  issueInstant: Date;
  notBefore: Date;
  notOnOrAfter: Date;
}): string {
  const instant = a.issueInstant.toISOString();
  const attribute = (name: string, values: string[]) =>
    `<saml:Attribute Name="${name}" NameFormat="${ATTRNAME_BASIC}">` +
    values.map((v) => `<saml:AttributeValue xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('') +
    `</saml:Attribute>`;
  const groups = a.user.groups ?? [];
  return (
    `<saml:Assertion xmlns:saml="${NS.assertion}" xmlns:xsi="${NS.xsi}" xmlns:xs="${NS.xs}" ID="${esc(a.id)}" Version="2.0" IssueInstant="${instant}">` +
    `<saml:Issuer>${esc(a.idpEntityId)}</saml:Issuer>` +
    `<saml:Subject>` +
    `<saml:NameID Format="${NAMEID_EMAIL}">${esc(a.user.nameId)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="${CM_BEARER}">` +
    `<saml:SubjectConfirmationData${a.inResponseTo !== null ? ` InResponseTo="${esc(a.inResponseTo)}"` : ''} ` +
    `NotOnOrAfter="${a.notOnOrAfter.toISOString()}" Recipient="${esc(a.recipient ?? a.destination)}"/>` +
    `</saml:SubjectConfirmation>` +
    `</saml:Subject>` +
    `<saml:Conditions NotBefore="${a.notBefore.toISOString()}" NotOnOrAfter="${a.notOnOrAfter.toISOString()}">` +
    `<saml:AudienceRestriction><saml:Audience>${esc(a.audience)}</saml:Audience></saml:AudienceRestriction>` +
    `</saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${instant}" SessionIndex="${esc(a.id)}">` +
    `<saml:AuthnContext><saml:AuthnContextClassRef>${AC_PASSWORD}</saml:AuthnContextClassRef></saml:AuthnContext>` +
    `</saml:AuthnStatement>` +
    `<saml:AttributeStatement>` +
    attribute('email', typeof a.user.email === 'string' ? [a.user.email] : a.user.email) +
    (groups.length > 0 ? attribute('groups', groups) : '') +
    `</saml:AttributeStatement>` +
    `</saml:Assertion>`
  );
}

/** Enveloped RSA-SHA256 signature over the element at `xpath` (referenced by its ID), placed right after its Issuer (first child without one). */
function signElement(xml: string, xpath: string, keys: KeyPair, afterIssuer = true): string {
  const sig = new SignedXml({
    privateKey: keys.privateKeyPem,
    publicCert: keys.certificatePem,
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
    idAttribute: 'ID',
  });
  sig.addReference({ xpath, transforms: [ENVELOPED, EXC_C14N], digestAlgorithm: SHA256 });
  sig.computeSignature(xml, {
    prefix: 'ds',
    location: afterIssuer ? { reference: issuerOf(xpath), action: 'after' } : { reference: xpath, action: 'prepend' },
  });
  return sig.getSignedXml();
}

function wrapSignedResponse(
  signedXml: string,
  evilAssertion: string,
  style: WrapStyle,
  r: { idpEntityId: string | null; destination: string; inResponseTo: string | null; issueInstant: Date },
): string {
  const doc = parseXml(signedXml);
  const response = doc.documentElement!;
  const signedAssertion = childElements(response).find(
    (e) => e.localName === 'Assertion' && e.namespaceURI === NS.assertion,
  );

  switch (style) {
    case 'sibling': {
      const evil = importElement(doc, evilAssertion);
      if (signedAssertion) response.insertBefore(evil, signedAssertion);
      else response.appendChild(evil);
      return serialize(doc);
    }
    case 'nested': {
      if (!signedAssertion) throw new Error("wrapStyle 'nested' needs an assertion in the response");
      const evil = importElement(doc, evilAssertion);
      response.replaceChild(evil, signedAssertion);
      const advice = doc.createElementNS(NS.assertion, 'saml:Advice');
      advice.appendChild(signedAssertion);
      const authnStatement = childElements(evil).find((e) => e.localName === 'AuthnStatement');
      evil.insertBefore(advice, authnStatement ?? null);
      return serialize(doc);
    }
    case 'response':
      return responseXml({ id: newId(), ...r, content: evilAssertion, extensions: signedXml });
  }
}

function parseXml(xml: string): Document {
  return new DOMParser({ onError: onErrorStopParsing }).parseFromString(xml, 'text/xml');
}

function importElement(doc: Document, xml: string): Element {
  return doc.importNode(parseXml(xml).documentElement!, true);
}

function serialize(doc: Document): string {
  return new XMLSerializer().serializeToString(doc);
}

function childElements(parent: Element): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) if (n.nodeType === n.ELEMENT_NODE) out.push(n as Element);
  return out;
}

function pemBody(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

function newId(): string {
  return `_${randomBytes(20).toString('hex')}`;
}

function esc(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}
