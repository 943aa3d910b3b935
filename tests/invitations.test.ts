import {
  AcceptInvitationDocument,
  AuditLogDocument,
  CreateProductDocument,
  CurrentTenantDocument,
  InviteUserDocument,
  ProductsDocument,
} from './generated/graphql';
import { codes } from './support/gql';
import { uniqueEmail } from './support/fixtures';
import { tokenFrom, waitForMail, SUBJECTS } from './support/mailbox';
import type { User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
let owner: User;
beforeAll(async () => {
  t = await startTestPlatform();
  owner = await t.signUp('Inviting');
});
afterAll(async () => {
  await t?.stop();
});

async function invite(email: string, role = 'member', token = owner.token) {
  return t.as(token).gql(InviteUserDocument, { input: { email, role } });
}

describe('invitations', () => {
  it('lets a new person join with the invited role, and the role decides what they may do', async () => {
    const email = uniqueEmail('newcomer');
    expect((await invite(email)).errors).toBeUndefined();
    const token = tokenFrom(await waitForMail(t.config, email, SUBJECTS.invitation));
    const joined = await t.anonymous().gql(AcceptInvitationDocument, {
      input: { token, password: 'my own new phrase' },
    });
    expect(joined.errors).toBeUndefined();
    expect(joined.data!.acceptInvitation).toMatchObject({
      user: { email },
      tenant: { id: owner.tenantId, name: 'Inviting' },
    });
    const member = joined.data!.acceptInvitation.accessToken;
    expect((await t.as(member).gql(ProductsDocument, {})).errors).toBeUndefined();
    const write = await t
      .as(member)
      .gql(CreateProductDocument, { input: { name: 'x', priceCents: 1, currency: 'USD' } });
    expect(codes(write)).toEqual(['FORBIDDEN']);
    expect(codes(await t.as(member).gql(AuditLogDocument, {}))).toEqual(['FORBIDDEN']);
    expect(codes(await invite(uniqueEmail(), 'member', member))).toEqual(['FORBIDDEN']);
    const tenant = await owner.gql(CurrentTenantDocument, {});
    expect(tenant.data!.currentTenant.members.map((m) => [m.role, m.user.email])).toEqual([
      ['owner', owner.email],
      ['member', email],
    ]);
    const again = await t.anonymous().gql(AcceptInvitationDocument, {
      input: { token, password: 'my own new phrase' },
    });
    expect(codes(again)).toEqual(['INVALID_TOKEN']);
  });

  it('invites an end user with the fewest rights', async () => {
    const email = uniqueEmail('customer');
    await invite(email, 'user');
    const token = tokenFrom(await waitForMail(t.config, email, SUBJECTS.invitation));
    const joined = await t.anonymous().gql(AcceptInvitationDocument, {
      input: { token, password: 'customer pass phrase' },
    });
    const user = joined.data!.acceptInvitation.accessToken;
    expect(codes(await t.as(user).gql(ProductsDocument, {}))).toEqual(['FORBIDDEN']);
  });

  it('adds an existing account only with its password', async () => {
    const existing = await t.signUp('Has own tenant');
    await invite(existing.email, 'admin');
    const token = tokenFrom(await waitForMail(t.config, existing.email, SUBJECTS.invitation));
    const wrong = await t.anonymous().gql(AcceptInvitationDocument, { input: { token, password: 'not the password' } });
    expect(codes(wrong)).toEqual(['INVALID_CREDENTIALS']);
    const ok = await t.anonymous().gql(AcceptInvitationDocument, { input: { token, password: existing.password } });
    expect(ok.data!.acceptInvitation).toMatchObject({ user: { id: existing.userId }, tenant: { id: owner.tenantId } });
    const admin = ok.data!.acceptInvitation.accessToken;
    expect(
      (await t.as(admin).gql(CreateProductDocument, { input: { name: 'By admin', priceCents: 1, currency: 'USD' } }))
        .errors,
    ).toBeUndefined();
  });

  it('refuses ownership, unknown roles and malformed addresses, recording the refusal', async () => {
    expect(codes(await invite(uniqueEmail(), 'owner'))).toEqual(['PERMISSION_ESCALATION']);
    expect(codes(await invite(uniqueEmail(), 'emperor'))).toEqual(['UNKNOWN_ROLE']);
    expect(codes(await invite('not-an-address'))).toEqual(['INVALID_EMAIL']);
    // Exactly one mailbox: never a list, a display name or anything a mailer would read as more recipients.
    for (const several of [
      'mallory,vic@example.test',
      'vic@example.test,mallory@example.test',
      '<vic@example.test>',
      'vic@example.test;x',
    ]) {
      expect({ several, codes: codes(await invite(several)) }).toEqual({ several, codes: ['INVALID_EMAIL'] });
    }
    const log = await owner.gql(AuditLogDocument, { filter: { action: 'invite', result: 'FAILURE' } });
    expect(log.data!.auditLog.edges).toHaveLength(1);
  });
});
