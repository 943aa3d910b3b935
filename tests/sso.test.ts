import { Client } from 'pg';
import {
  AddDomainDocument,
  AuditDetailsDocument,
  AuditLogDocument,
  CompleteSsoLoginDocument,
  CreateTenantDocument,
  EnrollTotpDocument,
  LogoutEverywhereDocument,
  RefreshSessionDocument,
  CreateOidcConnectionDocument,
  CreateSamlConnectionDocument,
  LoginDocument,
  MeDocument,
  MyAccessDocument,
  RequireSsoDocument,
  SsoConnectionsDocument,
  UpdateSsoConnectionDocument,
  DeleteSsoConnectionDocument,
  SwitchTenantDocument,
  VerifyDomainDocument,
  RemoveDomainDocument,
  RequestPasswordResetDocument,
  CreateRoleDocument,
  AssignRoleDocument,
  DeleteRoleDocument,
  ReactivateTenantDocument,
  SetTenantLimitsDocument,
  SuspendTenantDocument,
} from './generated/graphql';
import { codes } from './support/gql';
import type { User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { startOidcProvider, type TestOp } from './support/oidc-op';
import { createSamlIdp, type ResponseOptions, type SamlUser, type TestSamlIdp } from './support/saml-idp';
import { startTestDns, type TestDns } from './support/dns';
import { sqlOn } from './support/db';
import { SUBJECTS, mailsTo, waitForMail } from './support/mailbox';

const APP = 'http://127.0.0.1:9/app/sso';
let t: TestPlatform;
let dns: TestDns;
let op: TestOp;
let otherOp: TestOp;
let idp: TestSamlIdp;
let owner: User;
let outsider: User;
let origin: string;
let oidcId: string;
let saml: { id: string; acsPath: string; spEntityId: string; metadataPath: string };
let corpDomain: { id: string; txtRecordName: string; txtRecordValue: string };

const accounts = {
  alice: { email: 'alice@corp.test', groups: ['nexus-admins', 'staff'] },
  bob: { email: 'bob@corp.test', groups: ['staff'] },
  eve: { email: 'eve@corp.test', email_verified: false },
  eveString: { email: 'eve-string@corp.test', email_verified: 'false' },
  eveSilent: { email: 'eve-silent@corp.test', email_verified: null },
  stringy: { email: 'stringy@corp.test', email_verified: 'true', groups: [] as string[] },
  mallory: { email: 'mallory@elsewhere.test', groups: [] as string[] },
  otto: { email: '', groups: [] as string[] },
  root: { email: 'root@corp.test', groups: ['nexus-admins'] },
  forger: { email: 'forger@corp.test', groups: ['nexus-admins'], idTokenKey: 'foreign' as const },
  forgerKid: { email: 'forger-kid@corp.test', groups: ['nexus-admins'], idTokenKey: 'foreign-kid' as const },
  several: { email: ['mallory@elsewhere.test', 'several@corp.test'], groups: [] as string[] },
  listed: { email: ['not an address', 'Listed@Corp.test', 'mallory@elsewhere.test'], groups: [] as string[] },
  nul: { email: 'nul@corp.test', groups: ['g\u0000x', 'staff'] },
};
const ROOT = 'root@corp.test';
/** A platform operator (suspends tenants, sets their limits). */
const OPERATOR = 'operator@ops.test';

beforeAll(async () => {
  dns = await startTestDns();
  t = await startTestPlatform(undefined, { DNS_SERVERS: dns.address, SUPER_ADMIN_EMAILS: `${ROOT},${OPERATOR}` });
  origin = new URL(t.gatewayUrl).origin;
  owner = await t.signUp('Corp');
  // An account of the company's domain that another tenant made: the IdP asserting it must not take it over.
  outsider = await t.signUp('Elsewhere', 'otto@corp.test');
  accounts.otto.email = outsider.email;
  // The company's domain, verified by its tenant: its providers may sign in addresses of that domain only.
  corpDomain = (await owner.gql(AddDomainDocument, { domain: 'corp.test' })).data!.addDomain;
  dns.setTxt(corpDomain.txtRecordName, [corpDomain.txtRecordValue]);
  expect((await owner.gql(VerifyDomainDocument, { id: corpDomain.id })).data!.verifyDomain.status).toBe('VERIFIED');
  const client = {
    client_id: 'nexus',
    client_secret: 'nexus-client-secret',
    redirect_uris: [`${origin}/sso/oidc/callback`],
  };
  [op, otherOp, idp] = await Promise.all([
    startOidcProvider({ clients: [client], accounts }),
    startOidcProvider({ clients: [client], accounts }),
    createSamlIdp(),
  ]);
  const created = await owner.gql(CreateOidcConnectionDocument, {
    input: {
      name: 'Corp OIDC',
      issuer: op.issuer,
      clientId: client.client_id,
      clientSecret: client.client_secret,
      scopes: ['openid', 'email', 'profile', 'groups'],
      roleMapping: [{ group: 'nexus-admins', role: 'admin' }],
      defaultRole: 'user',
      redirectUrl: APP,
      allowedDomains: ['corp.test'],
    },
  });
  oidcId = created.data!.createOidcConnection.id;
  expect(created.data!.createOidcConnection.callbackPath).toBe('/sso/oidc/callback');
  const samlCreated = await owner.gql(CreateSamlConnectionDocument, {
    input: {
      name: 'Corp SAML',
      metadataXml: idp.metadataXml,
      roleMapping: [{ group: 'admins', role: 'admin' }],
      redirectUrl: APP,
      allowedDomains: ['corp.test'],
    },
  });
  saml = samlCreated.data!.createSamlConnection as typeof saml;
}, 90_000);
afterAll(async () => {
  await Promise.all([op?.stop(), otherOp?.stop()]);
  await t?.stop();
  await dns?.close();
});

/** The browser's cookie for /sso (the sign-in binding), as the last /sso response set it. */
let browserCookie: string | undefined;

async function get(url: string, cookie = browserCookie) {
  const res = await fetch(url, {
    redirect: 'manual',
    headers: cookie && url.startsWith(`${origin}/sso/`) ? { cookie } : {},
  });
  const set = res.headers.get('set-cookie');
  if (set && url.startsWith(`${origin}/sso/`)) browserCookie = set.split(';')[0];
  return { status: res.status, location: res.headers.get('location'), text: await res.text() };
}

async function postForm(url: string, form: Record<string, string>) {
  const res = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: res.status, location: res.headers.get('location'), text: await res.text() };
}

/** Reads the platform's database directly (what the API does not show). */
const sql = (text: string, values: unknown[] = []) => sqlOn(t.databaseUrl, text, values);

/** The error code a refusal page shows. */
const pageCode = (text: string) => /id="error-code">([A-Z_]+)</.exec(text)?.[1];

function codeFrom(location: string | null): string {
  expect(location).toMatch(new RegExp(`^${APP}\\?code=`));
  return new URL(location!).searchParams.get('code')!;
}

const start = (query: string) => get(`${origin}/sso/start?${query}`);
const startOidc = () => start(`tenant=${owner.tenantId}&connection=${oidcId}`);
const startSaml = () => start(`tenant=${owner.tenantId}&connection=${saml.id}`);

/** Starts a SAML sign-in at the tenant's connection and posts the IdP's answer for `user` to its ACS. */
async function samlRoundTrip(
  tenantId: string,
  conn: { id: string; acsPath: string; spEntityId: string },
  user: SamlUser,
) {
  const started = await start(`tenant=${tenantId}&connection=${conn.id}`);
  const { id } = idp.readRequest(started.location!);
  const SAMLResponse = idp.response({
    destination: origin + conn.acsPath,
    audience: conn.spEntityId,
    user,
    inResponseTo: id,
  });
  return postForm(origin + conn.acsPath, { SAMLResponse });
}

async function oidcLogin(sub: string): Promise<string> {
  const started = await startOidc();
  expect(started.status).toBe(302);
  return op.signIn(started.location!, sub);
}

async function failures(): Promise<number> {
  const log = await owner.gql(AuditLogDocument, { filter: { action: 'sso_login_failed' }, first: 100 });
  return log.data!.auditLog.edges.length;
}

describe('OIDC', () => {
  it('signs in through the provider: PKCE, state and nonce, first sign-in provisions with the mapped role, one-time code for tokens', async () => {
    const callback = await oidcLogin('alice');
    const finished = await get(callback);
    expect(finished.status).toBe(302);
    const code = codeFrom(finished.location);
    expect(finished.location).not.toContain('accessToken');
    const tokens = await t.anonymous().gql(CompleteSsoLoginDocument, { code });
    expect(tokens.data!.completeSsoLogin.user.email).toBe('alice@corp.test');
    expect(tokens.data!.completeSsoLogin.tenant.id).toBe(owner.tenantId);
    const token = tokens.data!.completeSsoLogin.accessToken;
    expect((await t.as(token).gql(MyAccessDocument, {})).data!.myAccess.roles).toEqual(['admin']);
    expect(codes(await t.anonymous().gql(CompleteSsoLoginDocument, { code }))).toEqual(['INVALID_SSO_CODE']);
    // A provider's session stays in its tenant, and does not change the account as a whole.
    expect(codes(await t.as(token).gql(SwitchTenantDocument, { tenantId: outsider.tenantId }))).toEqual([
      'NOT_A_MEMBER',
    ]);
    expect(codes(await t.as(token).gql(EnrollTotpDocument, {}))).toEqual(['FORBIDDEN']);
    expect(codes(await t.as(token).gql(LogoutEverywhereDocument, {}))).toEqual(['FORBIDDEN']);

    const bob = await get(await oidcLogin('bob'));
    const bobTokens = await t.anonymous().gql(CompleteSsoLoginDocument, { code: codeFrom(bob.location) });
    expect(
      (await t.as(bobTokens.data!.completeSsoLogin.accessToken).gql(MyAccessDocument, {})).data!.myAccess.roles,
    ).toEqual(['user']);
    // The second sign-in finds the same account.
    const again = await t.anonymous().gql(CompleteSsoLoginDocument, {
      code: codeFrom((await get(await oidcLogin('bob'))).location),
    });
    expect(again.data!.completeSsoLogin.user.id).toBe(bobTokens.data!.completeSsoLogin.user.id);

    const log = await owner.gql(AuditDetailsDocument, { filter: { action: 'sso_login' } });
    expect(log.data!.auditLog.edges.length).toBeGreaterThanOrEqual(3);
  });

  it('refuses a replayed or forged state, a wrong code verifier or nonce, and a code from another issuer', async () => {
    const before = await failures();
    const callback = await oidcLogin('alice');
    expect((await get(callback)).status).toBe(302);
    const replay = await get(callback);
    expect([replay.status, pageCode(replay.text)]).toEqual([401, 'SSO_STATE_INVALID']);

    // Another browser (login CSRF: someone else's unused callback) is refused, even with a valid state.
    const stolen = await oidcLogin('alice');
    const elsewhereBrowser = await get(stolen, 'nexus_sso=somebody-else');
    expect([elsewhereBrowser.status, pageCode(elsewhereBrowser.text)]).toEqual([401, 'SSO_BROWSER_MISMATCH']);
    const noCookie = await oidcLogin('alice');
    expect(pageCode((await get(noCookie, '')).text)).toBe('SSO_BROWSER_MISMATCH');

    const forged = new URL(await oidcLogin('alice'));
    forged.searchParams.set('state', `${owner.tenantId}.${oidcId}.forged`);
    expect(pageCode((await get(forged.toString())).text)).toBe('SSO_STATE_INVALID');

    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    try {
      const verifier = await oidcLogin('alice');
      await db.query(
        `UPDATE identity.sso_requests SET verifier_secret = 'x' || verifier_secret WHERE used_at IS NULL AND id LIKE 'oidc:%'`,
      );
      expect(pageCode((await get(verifier)).text)).toBe('SSO_OIDC_REJECTED');
      const nonce = await oidcLogin('alice');
      await db.query(
        `UPDATE identity.sso_requests SET nonce_secret = 'another-nonce' WHERE used_at IS NULL AND id LIKE 'oidc:%'`,
      );
      expect(pageCode((await get(nonce)).text)).toBe('SSO_OIDC_REJECTED');
    } finally {
      await db.end();
    }

    // Our request, answered by another provider (same client registration): its code and issuer are not ours.
    const started = await startOidc();
    const elsewhere = started.location!.replace(op.issuer, otherOp.issuer);
    const foreign = await get(await otherOp.signIn(elsewhere, 'alice'));
    expect([foreign.status, pageCode(foreign.text)]).toEqual([401, 'SSO_OIDC_REJECTED']);

    const unverified = await get(await oidcLogin('eve'));
    expect(pageCode(unverified.text)).toBe('SSO_EMAIL_UNVERIFIED');
    // Only the connection's domains; someone else's account (of another tenant) is not taken over;
    // the owner's account and platform administrators never sign in through a provider.
    const foreignDomain = await get(await oidcLogin('mallory'));
    expect([foreignDomain.status, pageCode(foreignDomain.text)]).toEqual([403, 'SSO_DOMAIN_NOT_ALLOWED']);
    const takeover = await get(await oidcLogin('otto'));
    expect([takeover.status, pageCode(takeover.text)]).toEqual([409, 'SSO_ACCOUNT_EXISTS']);
    const platform = await get(await oidcLogin('root'));
    expect([platform.status, pageCode(platform.text)]).toEqual([403, 'SSO_ACCOUNT_RESERVED']);
    expect(await failures()).toBe(before + 11);
  });

  it("refuses an ID token signed with a key absent from the provider's published keys", async () => {
    const before = await failures();
    for (const sub of ['forger', 'forgerKid']) {
      const res = await get(await oidcLogin(sub));
      expect({ sub, status: res.status, code: pageCode(res.text), location: res.location }).toEqual({
        sub,
        status: 401,
        code: 'SSO_OIDC_REJECTED',
        location: null,
      });
    }
    expect(await failures()).toBe(before + 2);
    // Nobody was provisioned from the forged tokens.
    expect(await sql(`SELECT email FROM identity.users WHERE email LIKE 'forger%'`)).toEqual([]);
  });

  it('takes one address from an e-mail claim with several values: the first valid one, whose domain must be allowed', async () => {
    const foreignFirst = await get(await oidcLogin('several'));
    expect([foreignFirst.status, pageCode(foreignFirst.text)]).toEqual([403, 'SSO_DOMAIN_NOT_ALLOWED']);
    const listed = await get(await oidcLogin('listed'));
    const tokens = await t.anonymous().gql(CompleteSsoLoginDocument, { code: codeFrom(listed.location) });
    expect(tokens.data!.completeSsoLogin.user.email).toBe('listed@corp.test');
  });

  it('refuses an address the provider calls unverified, also as the string "false", and trusts one with no claim', async () => {
    const res = await get(await oidcLogin('eveString'));
    expect([res.status, pageCode(res.text)]).toEqual([401, 'SSO_EMAIL_UNVERIFIED']);
    expect(await sql(`SELECT email FROM identity.users WHERE email LIKE 'eve-%'`)).toEqual([]);
    const stringy = await get(await oidcLogin('stringy'));
    expect(
      (await t.anonymous().gql(CompleteSsoLoginDocument, { code: codeFrom(stringy.location) })).data!.completeSsoLogin
        .user.email,
    ).toBe('stringy@corp.test');
    const silent = await get(await oidcLogin('eveSilent'));
    expect(
      (await t.anonymous().gql(CompleteSsoLoginDocument, { code: codeFrom(silent.location) })).data!.completeSsoLogin
        .user.email,
    ).toBe('eve-silent@corp.test');
  });

  it('refuses provider settings past their limits', async () => {
    const oidc = (input: Record<string, unknown>) =>
      owner.gql(CreateOidcConnectionDocument, {
        input: {
          name: 'Long',
          issuer: op.issuer,
          clientId: 'nexus',
          clientSecret: 'nexus-client-secret',
          allowedDomains: ['corp.test'],
          ...input,
        },
      });
    for (const input of [
      { clientId: 'x'.repeat(501) },
      { groupsClaim: 'g'.repeat(501) },
      { scopes: ['openid', 's'.repeat(501)] },
      { scopes: ['openid', ...Array.from({ length: 20 }, (_, i) => `s${i}`)] },
    ]) {
      const res = await oidc(input);
      expect({ input: Object.keys(input), codes: codes(res) }).toEqual({
        input: Object.keys(input),
        codes: ['INVALID_SSO_CONNECTION'],
      });
    }
    const group = await owner.gql(UpdateSsoConnectionDocument, {
      id: oidcId,
      input: { roleMapping: [{ group: 'g'.repeat(201), role: 'member' }] },
    });
    expect(codes(group)).toEqual(['INVALID_SSO_CONNECTION']);
    const entity = await owner.gql(CreateSamlConnectionDocument, {
      input: {
        name: 'Long entity',
        idpEntityId: `urn:${'x'.repeat(500)}`,
        ssoUrl: idp.ssoUrl,
        certificate: idp.certificatePem,
        allowedDomains: ['corp.test'],
      },
    });
    expect(codes(entity)).toEqual(['INVALID_SSO_CONNECTION']);
  });

  it('reports a provider that cannot be discovered when the connection is saved', async () => {
    const res = await owner.gql(CreateOidcConnectionDocument, {
      input: {
        name: 'Nowhere',
        issuer: 'http://127.0.0.1:9/nowhere',
        clientId: 'x',
        clientSecret: 'y',
        allowedDomains: ['corp.test'],
      },
    });
    expect(codes(res)).toEqual(['INVALID_SSO_CONNECTION']);
    expect(res.errors![0].message).toContain('discovery');
    const plain = await owner.gql(CreateOidcConnectionDocument, {
      input: {
        name: 'Plain',
        issuer: 'http://idp.example.test',
        clientId: 'x',
        clientSecret: 'y',
        allowedDomains: ['corp.test'],
      },
    });
    expect(plain.errors![0].message).toContain('https');
  });
});

describe('SAML', () => {
  const user = { nameId: 'carol@corp.test', email: 'carol@corp.test', groups: ['admins'] };
  async function request(): Promise<string> {
    const started = await startSaml();
    expect(started.status).toBe(302);
    expect(started.location!.startsWith(idp.ssoUrl)).toBe(true);
    const req = idp.readRequest(started.location!);
    expect(req.issuer).toBe(saml.spEntityId);
    return req.id;
  }
  const answer = async (options: Partial<ResponseOptions> = {}) => {
    const inResponseTo = options.inResponseTo === undefined ? await request() : options.inResponseTo;
    const SAMLResponse = idp.response({
      destination: origin + saml.acsPath,
      audience: saml.spEntityId,
      user,
      ...options,
      inResponseTo,
    });
    return { SAMLResponse, post: () => postForm(origin + saml.acsPath, { SAMLResponse }) };
  };

  it('serves SP metadata and signs in with a response and assertion signed by the pinned certificate', async () => {
    const metadata = await get(origin + saml.metadataPath);
    expect(metadata.status).toBe(200);
    expect(metadata.text).toContain(`entityID="${saml.spEntityId}"`);
    expect(metadata.text).toContain(origin + saml.acsPath);

    const done = await (await answer()).post();
    expect(done.status).toBe(302);
    const tokens = await t.anonymous().gql(CompleteSsoLoginDocument, { code: codeFrom(done.location) });
    expect(tokens.data!.completeSsoLogin.user.email).toBe('carol@corp.test');
    const token = tokens.data!.completeSsoLogin.accessToken;
    expect((await t.as(token).gql(MyAccessDocument, {})).data!.myAccess.roles).toEqual(['admin']);
    expect((await t.as(token).gql(MeDocument, {})).data!.me.email).toBe('carol@corp.test');
  });

  it('refuses unsigned, wrongly signed, replayed, expired, misaddressed, unsolicited and signature-wrapped responses', async () => {
    const before = await failures();
    const past = new Date(Date.now() - 3_600_000);
    const cases: [
      string,
      () => Promise<{ post(): Promise<{ status: number; text: string; location: string | null }> }>,
      string,
    ][] = [
      ['unsigned', () => answer({ sign: 'none' }), 'SSO_SAML_REJECTED'],
      ['only the assertion signed', () => answer({ sign: 'assertion' }), 'SSO_SAML_REJECTED'],
      [
        'signed with a key of its own (certificate in KeyInfo)',
        () => answer({ signWith: 'stranger' }),
        'SSO_SAML_REJECTED',
      ],
      [
        'expired',
        () => answer({ issueInstant: past, notBefore: past, notOnOrAfter: new Date(past.getTime() + 300_000) }),
        'SSO_SAML_REJECTED',
      ],
      ['for another audience', () => answer({ audience: 'urn:someone-else' }), 'SSO_SAML_REJECTED'],
      [
        'to another destination',
        () => answer({ destination: `${origin}/sso/saml/acs/${owner.tenantId}/00000000-0000-4000-8000-000000000000` }),
        'SSO_SAML_REJECTED',
      ],
      ['unsolicited', () => answer({ inResponseTo: null }), 'SSO_SAML_REJECTED'],
      ['for a request never made', () => answer({ inResponseTo: '_never-asked' }), 'SSO_SAML_REJECTED'],
      [
        'wrapped: evil assertion first',
        () =>
          answer({
            wrap: { nameId: 'evil@corp.test', email: 'evil@corp.test', groups: ['admins'] },
            wrapStyle: 'sibling',
          }),
        'SSO_SAML_REJECTED',
      ],
      [
        'wrapped: signed response inside an evil one',
        () => answer({ wrap: { nameId: 'evil@corp.test', email: 'evil@corp.test' }, wrapStyle: 'response' }),
        'SSO_SAML_REJECTED',
      ],
      [
        'wrapped: evil assertion carrying the signed one',
        () => answer({ wrap: { nameId: 'evil@corp.test', email: 'evil@corp.test' }, wrapStyle: 'nested' }),
        'SSO_SAML_REJECTED',
      ],
    ];
    for (const [name, make, code] of cases) {
      const res = await (await make()).post();
      expect({ name, status: res.status, code: pageCode(res.text), location: res.location }).toEqual({
        name,
        status: 401,
        code,
        location: null,
      });
    }
    // The same response twice: its request is used up. The same assertion answering a new request: already seen.
    const once = await answer();
    expect((await once.post()).status).toBe(302);
    const again = await once.post();
    expect([again.status, pageCode(again.text)]).toEqual([401, 'SSO_SAML_REJECTED']);
    const assertionId = '_reused-assertion';
    expect((await (await answer({ assertionId })).post()).status).toBe(302);
    const reused = await (await answer({ assertionId })).post();
    expect([reused.status, pageCode(reused.text)]).toEqual([401, 'SSO_REPLAYED']);
    expect(await failures()).toBe(before + cases.length + 2);
    const login = await t.anonymous().gql(LoginDocument, {
      input: { email: 'evil@corp.test', password: 'x'.repeat(12) },
    });
    expect(codes(login)).toEqual(['INVALID_CREDENTIALS']);
  });

  it("refuses a response signed with the pinned certificate but issued under another entity id than the connection's IdP", async () => {
    const before = await failures();
    const stranger = 'https://idp.other.test/saml';
    const cases: [string, Partial<ResponseOptions>][] = [
      ['response and assertion from another issuer', { responseIssuer: stranger, assertionIssuer: stranger }],
      ['assertion from another issuer', { assertionIssuer: stranger }],
      ['response from another issuer', { responseIssuer: stranger }],
      ['assertion from another issuer, response without one', { responseIssuer: null, assertionIssuer: stranger }],
      [
        'issuer differing only in case',
        { responseIssuer: idp.entityId.toUpperCase(), assertionIssuer: idp.entityId.toUpperCase() },
      ],
    ];
    for (const [name, options] of cases) {
      const res = await (await answer(options)).post();
      expect({ name, status: res.status, code: pageCode(res.text), issuer: /Issuer/.test(res.text) }).toEqual({
        name,
        status: 401,
        code: 'SSO_SAML_REJECTED',
        issuer: true,
      });
    }
    expect(await failures()).toBe(before + cases.length);
    // The Response's Issuer is optional: without it, the assertion's (ours) is enough.
    const noResponseIssuer = await (await answer({ responseIssuer: null })).post();
    expect(noResponseIssuer.status).toBe(302);
  });

  it('refuses a response whose Destination or Recipient is another endpoint, each checked on its own', async () => {
    const ours = origin + saml.acsPath;
    const theirs = `${origin}/sso/saml/acs/${owner.tenantId}/00000000-0000-4000-8000-000000000000`;
    const destination = await (await answer({ destination: theirs, recipient: ours })).post();
    expect([destination.status, pageCode(destination.text)]).toEqual([401, 'SSO_SAML_REJECTED']);
    expect(destination.text).toContain('Destination');
    const recipient = await (await answer({ destination: ours, recipient: theirs })).post();
    expect([recipient.status, pageCode(recipient.text)]).toEqual([401, 'SSO_SAML_REJECTED']);
    expect(recipient.text).toContain('Recipient');
  });

  it('takes one address from a multi-valued email attribute: the first valid value, whose domain must be allowed', async () => {
    const withEmail = (email: string[]) => answer({ user: { nameId: 'vic', email, groups: [] } });
    const foreignFirst = await (await withEmail(['mallory@elsewhere.test', 'vic@corp.test'])).post();
    expect([foreignFirst.status, pageCode(foreignFirst.text)]).toEqual([403, 'SSO_DOMAIN_NOT_ALLOWED']);
    const joined = await (await withEmail(['mallory@elsewhere.test,vic@corp.test'])).post();
    expect([joined.status, pageCode(joined.text)]).toEqual([401, 'SSO_NO_EMAIL']);
    const named = await (await withEmail(['Vic <vic@corp.test>'])).post();
    expect([named.status, pageCode(named.text)]).toEqual([401, 'SSO_NO_EMAIL']);
    expect(
      await sql(
        `SELECT email FROM identity.users WHERE email LIKE '%mallory%' OR email LIKE '%,%' OR email LIKE '%<%'`,
      ),
    ).toEqual([]);

    const skipped = await (await withEmail(['not an address', 'Vic@Corp.test', 'mallory@elsewhere.test'])).post();
    const tokens = await t.anonymous().gql(CompleteSsoLoginDocument, { code: codeFrom(skipped.location) });
    expect(tokens.data!.completeSsoLogin.user.email).toBe('vic@corp.test');
    // A reset asked for several addresses at once reaches nobody; one for the account's address reaches that mailbox alone.
    const both = 'mallory@elsewhere.test,vic@corp.test';
    expect((await t.anonymous().gql(RequestPasswordResetDocument, { email: both })).data).toEqual({
      requestPasswordReset: true,
    });
    await t.anonymous().gql(RequestPasswordResetDocument, { email: 'vic@corp.test' });
    expect((await waitForMail(t.config, 'vic@corp.test', SUBJECTS.reset)).to).toBe('vic@corp.test');
    expect([...mailsTo(t.config, both), ...mailsTo(t.config, 'mallory@elsewhere.test')]).toEqual([]);
    expect(mailsTo(t.config, 'vic@corp.test').filter((m) => m.subject === SUBJECTS.reset)).toHaveLength(1);
  });

  it('refuses an IdP entity id that is empty, and keeps one trimmed', async () => {
    const named = (entityId: string) => idp.metadataXml.replace(/entityID="[^"]*"/, `entityID="${entityId}"`);
    const save = (input: Record<string, unknown>) =>
      owner.gql(CreateSamlConnectionDocument, { input: { name: 'Entity', allowedDomains: ['corp.test'], ...input } });
    for (const metadataXml of [named(''), named('   ')]) {
      const res = await save({ metadataXml });
      expect([codes(res), res.errors![0].message]).toEqual([
        ['INVALID_SSO_CONNECTION'],
        expect.stringContaining('entityID'),
      ]);
    }
    expect(codes(await save({ idpEntityId: '  ', ssoUrl: idp.ssoUrl, certificate: idp.certificatePem }))).toEqual([
      'INVALID_SSO_CONNECTION',
    ]);
    const padded = await save({ metadataXml: named(`  ${idp.entityId}  `) });
    expect(padded.data!.createSamlConnection.idpEntityId).toBe(idp.entityId);
    await owner.gql(DeleteSsoConnectionDocument, { id: padded.data!.createSamlConnection.id });
  });

  it('reports unreadable metadata when the connection is saved', async () => {
    const bad = await owner.gql(CreateSamlConnectionDocument, {
      input: { name: 'Broken', metadataXml: '<EntityDescriptor', allowedDomains: ['corp.test'] },
    });
    expect(codes(bad)).toEqual(['INVALID_SSO_CONNECTION']);
    const noCert = idp.metadataXml.replace(/<(\w+:)?KeyDescriptor[\s\S]*<\/(\w+:)?KeyDescriptor>/, '');
    const missing = await owner.gql(CreateSamlConnectionDocument, {
      input: { name: 'No cert', metadataXml: noCert, allowedDomains: ['corp.test'] },
    });
    expect(missing.errors![0].message).toContain('signing certificate');
    const member = await owner.invite();
    expect(codes(await member.gql(SsoConnectionsDocument, {}))).toEqual(['FORBIDDEN']);
    expect((await owner.gql(SsoConnectionsDocument, {})).data!.ssoConnections.map((c) => c.kind)).toEqual([
      'OIDC',
      'SAML',
    ]);
  });
});

describe('managing connections', () => {
  it('disables, re-maps and deletes a connection, each change audited', async () => {
    const off = await owner.gql(UpdateSsoConnectionDocument, { id: saml.id, input: { enabled: false } });
    expect(off.data!.updateSsoConnection.enabled).toBe(false);
    const refused = await startSaml();
    expect([refused.status, pageCode(refused.text)]).toEqual([404, 'SSO_CONNECTION_NOT_FOUND']);
    const on = await owner.gql(UpdateSsoConnectionDocument, {
      id: saml.id,
      input: { enabled: true, roleMapping: [{ group: 'admins', role: 'member' }], defaultRole: 'user' },
    });
    expect(on.data!.updateSsoConnection).toMatchObject({
      enabled: true,
      defaultRole: 'user',
      roleMapping: [{ group: 'admins', role: 'member' }],
    });
    expect((await startSaml()).status).toBe(302);
    expect(
      codes(await owner.gql(UpdateSsoConnectionDocument, { id: saml.id, input: { defaultRole: 'owner' } })),
    ).toEqual(['INVALID_SSO_CONNECTION']);
    const spare = await owner.gql(CreateSamlConnectionDocument, {
      input: { name: 'Spare', metadataXml: idp.metadataXml, allowedDomains: ['corp.test'] },
    });
    expect(
      (await owner.gql(DeleteSsoConnectionDocument, { id: spare.data!.createSamlConnection.id })).data!
        .deleteSsoConnection,
    ).toBe(true);
    const log = await owner.gql(AuditLogDocument, { filter: { action: 'sso_connection_update' }, first: 10 });
    expect(log.data!.auditLog.edges).toHaveLength(2);
  });
});

describe('custom roles through a provider', () => {
  let conn: { id: string; acsPath: string; spEntityId: string };
  async function samlSignIn(user: SamlUser): Promise<{ status: number; text: string; token?: string }> {
    const res = await samlRoundTrip(owner.tenantId, conn, user);
    if (res.status !== 302) return res;
    const tokens = await t.anonymous().gql(CompleteSsoLoginDocument, { code: codeFrom(res.location) });
    return { ...res, token: tokens.data!.completeSsoLogin.accessToken };
  }
  const access = async (token: string) => (await t.as(token).gql(MyAccessDocument, {})).data!.myAccess;

  beforeAll(async () => {
    const created = await owner.gql(CreateSamlConnectionDocument, {
      input: {
        name: 'Corp SAML (roles)',
        metadataXml: idp.metadataXml,
        defaultRole: 'user',
        redirectUrl: APP,
        allowedDomains: ['corp.test'],
      },
    });
    conn = created.data!.createSamlConnection as typeof conn;
  });

  it('maps a group to a custom role of the tenant, given at sign-in and taken back when the group goes', async () => {
    const auditor = (await owner.gql(CreateRoleDocument, { input: { name: 'Auditor', permissions: ['audit:read'] } }))
      .data!.createRole;
    // By name or by id; stored (and shown) by id, so renaming the role keeps the mapping.
    const mapped = await owner.gql(UpdateSsoConnectionDocument, {
      id: conn.id,
      input: {
        roleMapping: [
          { group: 'auditors', role: 'auditor' },
          { group: 'also-auditors', role: auditor.id },
        ],
      },
    });
    expect(mapped.data!.updateSsoConnection.roleMapping).toEqual([
      { group: 'auditors', role: auditor.id },
      { group: 'also-auditors', role: auditor.id },
    ]);

    const ivy = { nameId: 'ivy@corp.test', email: 'ivy@corp.test', groups: ['auditors'] };
    const first = await samlSignIn(ivy);
    expect(first.status).toBe(302);
    expect(await access(first.token!)).toMatchObject({
      roles: ['user', 'Auditor'],
      permissions: expect.arrayContaining(['audit:read']),
    });
    expect((await t.as(first.token!).gql(AuditLogDocument, { first: 1 })).errors).toBeUndefined();

    // The provider no longer puts Ivy in the group: the next sign-in takes the role back.
    const later = await samlSignIn({ ...ivy, groups: [] });
    expect((await access(later.token!)).roles).toEqual(['user']);
    expect(codes(await t.as(later.token!).gql(AuditLogDocument, { first: 1 }))).toEqual(['FORBIDDEN']);
  });

  it('refuses a mapping to an unknown role or to rights the admin lacks, and a sign-in to a role since deleted', async () => {
    const unknown = await owner.gql(UpdateSsoConnectionDocument, {
      id: conn.id,
      input: { roleMapping: [{ group: 'x', role: 'emperor' }] },
    });
    expect(codes(unknown)).toEqual(['UNKNOWN_ROLE']);
    const owners = await owner.gql(UpdateSsoConnectionDocument, {
      id: conn.id,
      input: { roleMapping: [{ group: 'x', role: 'owner' }] },
    });
    expect(codes(owners)).toEqual(['INVALID_SSO_CONNECTION']);

    // Someone who may manage connections but not roles cannot have a provider hand out roles:manage.
    const keeper = (await owner.gql(CreateRoleDocument, { input: { name: 'SSO keeper', permissions: ['sso:manage'] } }))
      .data!.createRole;
    const mighty = (
      await owner.gql(CreateRoleDocument, { input: { name: 'Role master', permissions: ['roles:manage'] } })
    ).data!.createRole;
    const member = await owner.invite();
    expect(
      (await owner.gql(AssignRoleDocument, { input: { userId: member.userId, roleId: keeper.id } })).errors,
    ).toBeUndefined();
    const escalation = await member.gql(UpdateSsoConnectionDocument, {
      id: conn.id,
      input: { roleMapping: [{ group: 'x', role: mighty.id }] },
    });
    expect(codes(escalation)).toEqual(['PERMISSION_ESCALATION']);

    const doomed = (await owner.gql(CreateRoleDocument, { input: { name: 'Doomed', permissions: ['audit:read'] } }))
      .data!.createRole;
    await owner.gql(UpdateSsoConnectionDocument, {
      id: conn.id,
      input: { roleMapping: [{ group: 'doomed', role: doomed.id }] },
    });
    expect((await owner.gql(DeleteRoleDocument, { id: doomed.id })).data!.deleteRole).toBe(true);
    const refused = await samlSignIn({ nameId: 'jan@corp.test', email: 'jan@corp.test', groups: ['doomed'] });
    expect([refused.status, pageCode(refused.text)]).toEqual([403, 'SSO_ROLE_UNKNOWN']);
    // Changing something else about the connection still works (it can always be disabled).
    expect(
      (await owner.gql(UpdateSsoConnectionDocument, { id: conn.id, input: { enabled: false } })).errors,
    ).toBeUndefined();
  });
});

describe('custom roles a provider gave, when the tenant changes its mind', () => {
  const access = async (token: string) => (await t.as(token).gql(MyAccessDocument, {})).data!.myAccess;
  /** A connection of its own (same IdP) giving `roleId` to the group `readers`, and a sign-in through it. */
  async function connectionGiving(roleId: string, name: string) {
    const made = await owner.gql(CreateSamlConnectionDocument, {
      input: {
        name,
        metadataXml: idp.metadataXml,
        defaultRole: 'user',
        redirectUrl: APP,
        allowedDomains: ['corp.test'],
        roleMapping: [{ group: 'readers', role: roleId }],
      },
    });
    const c = made.data!.createSamlConnection as { id: string; acsPath: string; spEntityId: string };
    const signIn = async (user: SamlUser): Promise<string> => {
      const started = await start(`tenant=${owner.tenantId}&connection=${c.id}`);
      const { id } = idp.readRequest(started.location!);
      const res = await postForm(origin + c.acsPath, {
        SAMLResponse: idp.response({ destination: origin + c.acsPath, audience: c.spEntityId, user, inResponseTo: id }),
      });
      return (await t.anonymous().gql(CompleteSsoLoginDocument, { code: codeFrom(res.location) })).data!
        .completeSsoLogin.accessToken;
    };
    return { id: c.id, signIn };
  }
  const reader = (email: string) => ({ nameId: email, email, groups: ['readers'] });
  const newRole = async (name: string) =>
    (await owner.gql(CreateRoleDocument, { input: { name, permissions: ['audit:read'] } })).data!.createRole.id;

  it('keeps a role assigned by hand that a provider had given first, through later sign-ins without the group', async () => {
    const roleId = await newRole('Reader by hand');
    const c = await connectionGiving(roleId, 'Readers (by hand)');
    const token = await c.signIn(reader('kim@corp.test'));
    const kim = (await t.as(token).gql(MeDocument, {})).data!.me.id;
    expect((await access(token)).roles).toEqual(['user', 'Reader by hand']);
    expect((await owner.gql(AssignRoleDocument, { input: { userId: kim, roleId } })).errors).toBeUndefined();
    const later = await c.signIn({ ...reader('kim@corp.test'), groups: [] });
    expect((await access(later)).roles).toEqual(['user', 'Reader by hand']);
  });

  it('takes a role back at once when its rule leaves the mapping, or the connection is disabled or deleted', async () => {
    const roleId = await newRole('Reader by rule');
    for (const [n, change] of [
      ['rule removed', (id: string) => owner.gql(UpdateSsoConnectionDocument, { id, input: { roleMapping: [] } })],
      ['disabled', (id: string) => owner.gql(UpdateSsoConnectionDocument, { id, input: { enabled: false } })],
      ['deleted', (id: string) => owner.gql(DeleteSsoConnectionDocument, { id })],
    ] as const) {
      const c = await connectionGiving(roleId, `Readers (${n})`);
      const token = await c.signIn(reader(`lee-${n.split(' ')[0]}@corp.test`));
      expect((await access(token)).roles).toEqual(['user', 'Reader by rule']);
      expect((await t.as(token).gql(AuditLogDocument, { first: 1 })).errors).toBeUndefined();
      expect((await change(c.id)).errors).toBeUndefined();
      // The session from before, on its next request: the role is gone (nobody signed in again).
      expect({ n, roles: (await access(token)).roles }).toEqual({ n, roles: ['user'] });
      expect(codes(await t.as(token).gql(AuditLogDocument, { first: 1 }))).toEqual(['FORBIDDEN']);
    }
  });
});

describe('who may say what a provider gives', () => {
  it('refuses a system role beyond the rights of whoever saves the connection, as a rule or as the default role', async () => {
    // A member who may manage connections (a custom role with sso:manage) but is no admin.
    const keeper = (
      await owner.gql(CreateRoleDocument, { input: { name: 'Connection keeper', permissions: ['sso:manage'] } })
    ).data!.createRole;
    const member = await owner.invite();
    expect(
      (await owner.gql(AssignRoleDocument, { input: { userId: member.userId, roleId: keeper.id } })).errors,
    ).toBeUndefined();
    const create = (input: Record<string, unknown>) =>
      member.gql(CreateSamlConnectionDocument, {
        input: {
          name: 'Keeper SAML',
          metadataXml: idp.metadataXml,
          allowedDomains: ['corp.test'],
          defaultRole: 'user',
          ...input,
        },
      });
    expect(codes(await create({ defaultRole: 'admin' }))).toEqual(['PERMISSION_ESCALATION']);
    expect(codes(await create({ roleMapping: [{ group: 'anyone', role: 'admin' }] }))).toEqual([
      'PERMISSION_ESCALATION',
    ]);
    const own = await create({ roleMapping: [{ group: 'staff', role: 'member' }] });
    expect(own.errors).toBeUndefined();
    const id = own.data!.createSamlConnection.id;
    const update = (input: Record<string, unknown>) => member.gql(UpdateSsoConnectionDocument, { id, input });
    expect(codes(await update({ defaultRole: 'admin' }))).toEqual(['PERMISSION_ESCALATION']);
    expect(codes(await update({ roleMapping: [{ group: 'anyone', role: 'admin' }] }))).toEqual([
      'PERMISSION_ESCALATION',
    ]);
    // The same edits by someone who holds those rights go through.
    expect(
      (await owner.gql(UpdateSsoConnectionDocument, { id, input: { defaultRole: 'admin' } })).errors,
    ).toBeUndefined();
    expect((await owner.gql(DeleteSsoConnectionDocument, { id })).data!.deleteSsoConnection).toBe(true);
  });
});

describe('routing and policy', () => {
  it("routes an e-mail address of the tenant's verified domain to its identity provider", async () => {
    const routed = await start('email=Dave@Corp.test');
    expect(routed.status).toBe(302);
    expect(routed.location!.startsWith(`${op.issuer}/`)).toBe(true);
    const unknown = await start('email=dave@unknown.test');
    expect([unknown.status, pageCode(unknown.text)]).toEqual([400, 'SSO_TENANT_UNKNOWN']);
  });

  it('with SSO required, members cannot sign in with a password (owners still can)', async () => {
    const member = await owner.invite();
    const me = await member.gql(MeDocument, {});
    const email = me.data!.me.email!;
    const sideTenant = (await member.gql(CreateTenantDocument, { input: { name: 'Side project' } })).data!.createTenant
      .id;
    const before = await t.anonymous().gql(LoginDocument, {
      input: { email, password: 'member pass phrase', tenantId: owner.tenantId },
    });
    expect((await owner.gql(RequireSsoDocument, { requireSso: true })).data!.updateSecurityPolicy.requireSso).toBe(
      true,
    );
    expect(
      codes(
        await t.anonymous().gql(LoginDocument, {
          input: { email, password: 'member pass phrase', tenantId: owner.tenantId },
        }),
      ),
    ).toEqual(['SSO_REQUIRED']);
    // Nor by refreshing a password session from before, nor by switching in from another tenant.
    expect(
      codes(await t.anonymous().gql(RefreshSessionDocument, { refreshToken: before.data!.login.refreshToken })),
    ).toEqual(['SSO_REQUIRED']);
    const side = await t.anonymous().gql(LoginDocument, {
      input: { email, password: 'member pass phrase', tenantId: sideTenant },
    });
    expect(
      codes(await t.as(side.data!.login.accessToken).gql(SwitchTenantDocument, { tenantId: owner.tenantId })),
    ).toEqual(['SSO_REQUIRED']);
    expect(
      (await t.anonymous().gql(LoginDocument, { input: { email: owner.email, password: owner.password } })).errors,
    ).toBeUndefined();
    // Through the provider it still works.
    const sso = await get(await oidcLogin('bob'));
    expect(
      (await t.anonymous().gql(CompleteSsoLoginDocument, { code: codeFrom(sso.location) })).errors,
    ).toBeUndefined();
    await owner.gql(RequireSsoDocument, { requireSso: false });
    expect(
      (
        await t.anonymous().gql(LoginDocument, {
          input: { email, password: 'member pass phrase', tenantId: owner.tenantId },
        })
      ).errors,
    ).toBeUndefined();
  });
});

describe('whose addresses a provider signs in', () => {
  it('takes only domains the tenant has verified (or their subdomains), and stops signing in a domain the tenant gave up', async () => {
    // Another tenant cannot point a provider at the company's domain (and so learn which of its addresses have accounts).
    const foreign = await outsider.gql(CreateSamlConnectionDocument, {
      input: { name: 'Not mine', metadataXml: idp.metadataXml, allowedDomains: ['corp.test'] },
    });
    expect(codes(foreign)).toEqual(['INVALID_SSO_CONNECTION']);
    expect(foreign.errors![0].message).toContain('corp.test');
    const unverified = await owner.gql(CreateSamlConnectionDocument, {
      input: { name: 'Elsewhere', metadataXml: idp.metadataXml, allowedDomains: ['elsewhere.test'] },
    });
    expect(codes(unverified)).toEqual(['INVALID_SSO_CONNECTION']);
    expect(
      codes(
        await owner.gql(UpdateSsoConnectionDocument, {
          id: saml.id,
          input: { allowedDomains: ['corp.test', 'elsewhere.test'] },
        }),
      ),
    ).toEqual(['INVALID_SSO_CONNECTION']);
    const sub = await owner.gql(CreateSamlConnectionDocument, {
      input: { name: 'EU', metadataXml: idp.metadataXml, allowedDomains: ['eu.corp.test'] },
    });
    expect(sub.errors).toBeUndefined();
    await owner.gql(DeleteSsoConnectionDocument, { id: sub.data!.createSamlConnection.id });

    // The tenant removes the domain: its provider signs in none of those addresses any more, known or not.
    expect((await owner.gql(RemoveDomainDocument, { id: corpDomain.id })).data!.removeDomain).toBe(true);
    for (const who of ['bob', 'otto']) {
      const refused = await get(await oidcLogin(who));
      expect({ who, status: refused.status, code: pageCode(refused.text) }).toEqual({
        who,
        status: 403,
        code: 'SSO_DOMAIN_NOT_ALLOWED',
      });
    }
    corpDomain = (await owner.gql(AddDomainDocument, { domain: 'corp.test' })).data!.addDomain;
    dns.setTxt(corpDomain.txtRecordName, [corpDomain.txtRecordValue]);
    expect((await owner.gql(VerifyDomainDocument, { id: corpDomain.id })).data!.verifyDomain.status).toBe('VERIFIED');
    expect((await get(await oidcLogin('bob'))).status).toBe(302);
  });
});

describe('joining a tenant through its provider', () => {
  let operator: User;
  let team: User;
  let conn: { id: string; acsPath: string; spEntityId: string };
  async function samlSignIn(user: SamlUser) {
    const res = await samlRoundTrip(team.tenantId, conn, user);
    return { status: res.status, code: res.status === 302 ? null : pageCode(res.text) };
  }
  const person = (name: string) => ({
    nameId: `${name}@small-team.test`,
    email: `${name}@small-team.test`,
    groups: [],
  });
  const members = async () =>
    (await sql(`SELECT count(*)::int AS n FROM identity.memberships WHERE tenant_id = $1`, [team.tenantId]))[0].n;
  const limit = (members: number) =>
    operator.gql(SetTenantLimitsDocument, { tenantId: team.tenantId, limits: { members } });

  beforeAll(async () => {
    operator = await t.signUp('Operators', OPERATOR);
    await operator.confirmEmail();
    await operator.turnOnTotp();
    team = await t.signUp('Small Team');
    const domain = (await team.gql(AddDomainDocument, { domain: 'small-team.test' })).data!.addDomain;
    dns.setTxt(domain.txtRecordName, [domain.txtRecordValue]);
    expect((await team.gql(VerifyDomainDocument, { id: domain.id })).data!.verifyDomain.status).toBe('VERIFIED');
    const created = await team.gql(CreateSamlConnectionDocument, {
      input: {
        name: 'Small Team SAML',
        metadataXml: idp.metadataXml,
        redirectUrl: APP,
        allowedDomains: ['small-team.test'],
      },
    });
    conn = created.data!.createSamlConnection as typeof conn;
  });

  it('adds nobody past the members limit or while the tenant is suspended, and lets its members sign in', async () => {
    expect((await limit(1)).errors).toBeUndefined();
    expect(await samlSignIn(person('newcomer'))).toEqual({ status: 429, code: 'QUOTA_EXCEEDED' });
    expect(await members()).toBe(1);

    expect((await limit(5)).errors).toBeUndefined();
    expect(
      (await operator.gql(SuspendTenantDocument, { id: team.tenantId, reason: 'Unpaid invoices' })).errors,
    ).toBeUndefined();
    expect(await samlSignIn(person('newcomer'))).toEqual({ status: 403, code: 'TENANT_SUSPENDED' });
    expect(await members()).toBe(1);
    expect((await operator.gql(ReactivateTenantDocument, { id: team.tenantId })).errors).toBeUndefined();
    expect(await samlSignIn(person('newcomer'))).toEqual({ status: 302, code: null });
    expect(await members()).toBe(2);

    // Full again: a member signs in as before, nobody new joins.
    expect((await limit(2)).errors).toBeUndefined();
    expect(await samlSignIn(person('newcomer'))).toEqual({ status: 302, code: null });
    expect(await samlSignIn(person('latecomer'))).toEqual({ status: 429, code: 'QUOTA_EXCEEDED' });
    expect(await members()).toBe(2);
    const refusals = await team.gql(AuditDetailsDocument, { filter: { action: 'sso_login_failed' } });
    expect(refusals.data!.auditLog.edges.map((e) => (e.node.details as { code: string }).code)).toEqual([
      'QUOTA_EXCEEDED',
      'TENANT_SUSPENDED',
      'QUOTA_EXCEEDED',
    ]);
  });

  it('signs in someone whose provider groups hold a NUL, recording them in a storable form', async () => {
    const finished = await get(await oidcLogin('nul'));
    expect(finished.status).toBe(302);
    const log = await owner.gql(AuditDetailsDocument, { filter: { action: 'sso_login' } });
    const entry = log
      .data!.auditLog.edges.map((e) => e.node.details as { email: string; groups: string[] })
      .find((d) => d.email === 'nul@corp.test');
    expect(entry?.groups).toEqual(['g\uFFFDx', 'staff']);
  });
});
