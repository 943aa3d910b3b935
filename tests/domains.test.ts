import { request } from 'node:http';
import { print } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import {
  AcceptInvitationDocument,
  AddDomainDocument,
  DomainsDocument,
  InviteUserDocument,
  InstallModuleDocument,
  LoginDocument,
  OnboardingDocument,
  RemoveDomainDocument,
  TenantBrandingDocument,
  TenantStatusDocument,
  UpdateBrandingDocument,
  VerifyDomainDocument,
} from './generated/graphql';
import { codes, type GqlResult } from './support/gql';
import { uniqueEmail } from './support/fixtures';
import { tokenFrom, waitForMail } from './support/mailbox';
import { startTestDns, type TestDns } from './support/dns';
import type { User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { sleep } from './support/ws';

let t: TestPlatform;
let dns: TestDns;
let acme: User;
const suffix = Date.now().toString(36);
const ACME = `acme-${suffix}.test`;

beforeAll(async () => {
  dns = await startTestDns();
  t = await startTestPlatform(undefined, { DNS_SERVERS: dns.address, DOMAIN_RECHECK_SECONDS: '1' });
  acme = await t.signUp('Acme Domains');
});
afterAll(async () => {
  await t?.stop();
  await dns?.close();
});

/** A request as a browser on that host sends it (fetch may not set Host). */
function viaHost<T, V>(
  host: string,
  document: TypedDocumentNode<T, V>,
  variables: V,
  token?: string,
): Promise<GqlResult<T>> {
  const url = new URL(t.gatewayUrl);
  const body = JSON.stringify({ query: print(document), variables });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { host, 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          const json = JSON.parse(text) as { data?: T; errors?: GqlResult<T>['errors'] };
          resolve({ status: res.statusCode!, data: json.data, errors: json.errors });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const add = (account: User, domain: string) => account.gql(AddDomainDocument, { domain });
const verify = (account: User, id: string) => account.gql(VerifyDomainDocument, { id });

describe('custom domains', () => {
  let acmeDomainId: string;

  it('adds a domain with its TXT challenge and refuses malformed or repeated ones', async () => {
    const added = await add(acme, ` ${ACME.toUpperCase()}. `);
    expect(added.data!.addDomain).toMatchObject({
      domain: ACME,
      status: 'PENDING',
      txtRecordName: `_nexus-challenge.${ACME}`,
    });
    expect(added.data!.addDomain.txtRecordValue).toMatch(/^nexus-verification=[0-9a-f]{32}$/);
    acmeDomainId = added.data!.addDomain.id;
    for (const bad of [
      'localhost',
      '127.0.0.1',
      'under_score.test',
      '-dash.test',
      `${'a'.repeat(64)}.test`,
      'no-tld',
      'x.123',
      '',
    ]) {
      expect(codes(await add(acme, bad))).toEqual(['INVALID_DOMAIN']);
    }
    expect(codes(await add(acme, ACME))).toEqual(['DOMAIN_EXISTS']);
  });

  it('verifies only against the real TXT record, found through the configured DNS server', async () => {
    const missing = await verify(acme, acmeDomainId);
    expect(codes(missing)).toEqual(['DOMAIN_VERIFICATION_FAILED']);
    dns.setTxt(`_nexus-challenge.${ACME}`, ['nexus-verification=not-the-token']);
    expect(codes(await verify(acme, acmeDomainId))).toEqual(['DOMAIN_VERIFICATION_FAILED']);
    const listed = await acme.gql(DomainsDocument, {});
    const domain = listed.data!.domains[0];
    expect(domain).toMatchObject({ status: 'PENDING', lastError: 'TXT record does not hold the expected value' });
    dns.setTxt(`_nexus-challenge.${ACME}`, ['unrelated', domain.txtRecordValue]);
    const queriesBefore = dns.queries;
    const ok = await verify(acme, acmeDomainId);
    expect(ok.data!.verifyDomain.status).toBe('VERIFIED');
    expect(dns.queries).toBeGreaterThan(queriesBefore);
  });

  it('belongs to one tenant only', async () => {
    const other = await t.signUp('Other Domains');
    expect(codes(await add(other, ACME))).toEqual(['DOMAIN_TAKEN']);
    // Both add the same new domain; the first to verify keeps it.
    const shared = `shared-${suffix}.test`;
    const mine = (await add(acme, shared)).data!.addDomain;
    const theirs = (await add(other, shared)).data!.addDomain;
    dns.setTxt(`_nexus-challenge.${shared}`, [mine.txtRecordValue, theirs.txtRecordValue]);
    expect((await verify(other, theirs.id)).data!.verifyDomain.status).toBe('VERIFIED');
    expect(codes(await verify(acme, mine.id))).toEqual(['DOMAIN_TAKEN']);
    expect(codes(await verify(other, mine.id))).toEqual(['DOMAIN_NOT_FOUND']);
    expect(codes(await acme.gql(RemoveDomainDocument, { id: theirs.id }))).toEqual(['DOMAIN_NOT_FOUND']);
  });

  it('makes the gateway resolve the tenant from the Host header', async () => {
    await acme.gql(UpdateBrandingDocument, { input: { displayName: 'Acme Cloud', primaryColor: '#FF0066' } });
    const branded = await viaHost(ACME, TenantBrandingDocument, {});
    expect(branded.data!.tenantBranding).toMatchObject({
      name: 'Acme Domains',
      displayName: 'Acme Cloud',
      primaryColor: '#ff0066',
    });
    expect((await viaHost(`unknown-${suffix}.test`, TenantBrandingDocument, {})).data!.tenantBranding).toBeNull();
    expect((await t.anonymous().gql(TenantBrandingDocument, { domain: ACME })).data!.tenantBranding!.displayName).toBe(
      'Acme Cloud',
    );

    // Someone whose oldest tenant is elsewhere signs in on Acme's domain: the session is Acme's.
    const bob = await t.signUp('Bob Home');
    await acme.gql(InviteUserDocument, { input: { email: bob.email, role: 'member' } });
    const invitation = tokenFrom(await waitForMail(t.config, bob.email, 'You are invited to Acme Cloud'));
    await t.anonymous().gql(AcceptInvitationDocument, { input: { token: invitation, password: bob.password } });
    const here = await viaHost(ACME, LoginDocument, { input: { email: bob.email, password: bob.password } });
    expect(here.data!.login.tenant.id).toBe(acme.tenantId);
    const elsewhere = await t.anonymous().gql(LoginDocument, { input: { email: bob.email, password: bob.password } });
    expect(elsewhere.data!.login.tenant.id).toBe(bob.tenantId);
    // A token of another tenant is refused on this domain.
    const mismatch = await viaHost(ACME, TenantStatusDocument, {}, elsewhere.data!.login.accessToken);
    expect(mismatch.status).toBe(403);
    expect((await viaHost(ACME, TenantStatusDocument, {}, here.data!.login.accessToken)).data!.currentTenant.id).toBe(
      acme.tenantId,
    );
  });

  it('loses its verification when the record disappears (periodic check), and stops routing', async () => {
    const flaky = `flaky-${suffix}.test`;
    const d = (await add(acme, flaky)).data!.addDomain;
    dns.setTxt(`_nexus-challenge.${flaky}`, [d.txtRecordValue]);
    expect((await verify(acme, d.id)).data!.verifyDomain.status).toBe('VERIFIED');
    expect((await viaHost(flaky, TenantBrandingDocument, {})).data!.tenantBranding).not.toBeNull();
    dns.setTxt(`_nexus-challenge.${flaky}`, []);
    let status = 'VERIFIED';
    for (let i = 0; i < 40 && status === 'VERIFIED'; i++) {
      await sleep(250);
      status = (await acme.gql(DomainsDocument, {})).data!.domains.find((x) => x.id === d.id)!.status;
    }
    expect(status).toBe('FAILED');
    expect((await viaHost(flaky, TenantBrandingDocument, {})).data!.tenantBranding).toBeNull();
  });

  it('is released when removed', async () => {
    expect((await acme.gql(RemoveDomainDocument, { id: acmeDomainId })).data).toEqual({
      removeDomain: true,
    });
    expect((await viaHost(ACME, TenantBrandingDocument, {})).data!.tenantBranding).toBeNull();
    const next = await t.signUp('Next Owner');
    expect((await add(next, ACME)).errors).toBeUndefined();
  });
});

describe('branding', () => {
  it('is public by slug and checked when set', async () => {
    const owner = await t.signUp('Brand Co');
    const status = await owner.gql(TenantStatusDocument, {});
    const slug = status.data!.currentTenant.slug;
    expect((await t.anonymous().gql(TenantBrandingDocument, { slug })).data!.tenantBranding).toEqual({
      name: 'Brand Co',
      slug,
      displayName: 'Brand Co',
      logoUrl: null,
      primaryColor: null,
      accentColor: null,
      emailSenderName: null,
    });
    for (const input of [
      { primaryColor: 'red' },
      { logoUrl: 'http://insecure.test/logo.png' },
      { emailSenderName: 'Evil\r\nBcc: x@y.z' },
      { displayName: ' ' },
    ]) {
      expect(codes(await owner.gql(UpdateBrandingDocument, { input }))).toEqual(['INVALID_BRANDING']);
    }
    const set = await owner.gql(UpdateBrandingDocument, {
      input: { logoUrl: 'https://cdn.brand.test/logo.svg', accentColor: '#00aa00', emailSenderName: 'Brand Co Team' },
    });
    expect(set.data!.updateBranding).toEqual({
      displayName: 'Brand Co',
      logoUrl: 'https://cdn.brand.test/logo.svg',
      primaryColor: null,
      accentColor: '#00aa00',
      emailSenderName: 'Brand Co Team',
    });
    const cleared = await owner.gql(UpdateBrandingDocument, { input: { logoUrl: null } });
    expect(cleared.data!.updateBranding).toMatchObject({ logoUrl: null, accentColor: '#00aa00' });
    const member = await owner.invite();
    expect(codes(await member.gql(UpdateBrandingDocument, { input: { displayName: 'Mine' } }))).toEqual(['FORBIDDEN']);
    expect(
      (await t.anonymous().gql(TenantBrandingDocument, { slug: 'no-such-tenant-slug' })).data!.tenantBranding,
    ).toBeNull();

    // Identity's mails for the tenant carry its names.
    const invited = uniqueEmail('branded');
    await owner.gql(UpdateBrandingDocument, { input: { displayName: 'Brand Cloud' } });
    await owner.gql(InviteUserDocument, { input: { email: invited, role: 'member' } });
    const mail = await waitForMail(t.config, invited, 'You are invited to Brand Cloud');
    expect(mail.from).toMatch(/^"Brand Co Team" <[^>]+>$/);
    expect(mail.text).toContain('join Brand Cloud as member');
  });
});

describe('onboarding', () => {
  it('ticks each setup step as the tenant does it', async () => {
    const owner = await t.signUp('Onboarding Co');
    const progress = () => owner.gql(OnboardingDocument, {}).then((r) => r.data!.currentTenant.onboarding!);
    const start = await progress();
    expect(start).toMatchObject({ completed: 0, total: 4, done: false });
    expect(start.steps.map((s) => s.id)).toEqual([
      'invite_teammate',
      'set_branding',
      'verify_domain',
      'install_module',
    ]);
    await owner.invite();
    await owner.gql(UpdateBrandingDocument, { input: { displayName: 'Onboarded' } });
    await owner.gql(InstallModuleDocument, { id: 'chat' });
    expect(await progress()).toMatchObject({ completed: 3, done: false });
    const domain = `onboard-${suffix}.test`;
    const d = (await add(owner, domain)).data!.addDomain;
    dns.setTxt(`_nexus-challenge.${domain}`, [d.txtRecordValue]);
    await verify(owner, d.id);
    expect(await progress()).toMatchObject({ completed: 4, done: true });
  });
});
