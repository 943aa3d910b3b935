import {
  AcceptInvitationDocument,
  AuditDetailsDocument,
  ChangePasswordDocument,
  CreateApiKeyDocument,
  CreateRoomDocument,
  DisableTotpDocument,
  InviteUserDocument,
  LoginDocument,
  MeDocument,
  MyAccessDocument,
  SecurityPolicyDocument,
  TenantUsersDocument,
  type UnverifiedAccess,
  UpdateSecurityPolicyDocument,
} from './generated/graphql';
import { codes, gql } from './support/gql';
import { confirmEmail, joinByInvitation, signUp, totpCodeAt, turnOnTotp, type Account } from './support/fixtures';
import { SUBJECTS, tokenFrom, waitForMail } from './support/mailbox';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(async () => {
  await t?.stop();
});

const policy = (token: string) =>
  gql(t.gatewayUrl, SecurityPolicyDocument, {}, { token }).then((r) => r.data!.securityPolicy);
const access = (token: string) => gql(t.gatewayUrl, MyAccessDocument, {}, { token }).then((r) => r.data!.myAccess);
const setPolicy = (token: string, input: { requireTwoFactor?: boolean; unverifiedAccess?: UnverifiedAccess }) =>
  gql(t.gatewayUrl, UpdateSecurityPolicyDocument, { input }, { token });

describe('tenant security policy: mandatory two-factor authentication', () => {
  let owner: Account;
  let member: { userId: string; token: string };

  beforeAll(async () => {
    owner = await signUp(t.gatewayUrl, 'Strict');
    member = await joinByInvitation(t.gatewayUrl, t.config, owner);
  });

  it('cannot be required by an admin who does not use it', async () => {
    expect(codes(await setPolicy(owner.token, { requireTwoFactor: true }))).toEqual(['POLICY_UNMET']);
    expect(await policy(owner.token)).toEqual({ requireTwoFactor: false, unverifiedAccess: 'FULL' });
    expect(codes(await setPolicy(member.token, { requireTwoFactor: true }))).toEqual(['FORBIDDEN']);
  });

  it('limits members without 2FA to their own account until they set it up, then lifts at once', async () => {
    // An API key the member made before the rule: it follows its creator's rights.
    const key = await gql(
      t.gatewayUrl,
      CreateApiKeyDocument,
      { input: { name: 'ci', permissions: ['users:read'] } },
      { token: member.token },
    );
    const secret = key.data!.createApiKey.secret;
    expect((await gql(t.gatewayUrl, TenantUsersDocument, {}, { token: secret })).errors).toBeUndefined();

    await turnOnTotp(t.gatewayUrl, owner.token);
    const on = await setPolicy(owner.token, { requireTwoFactor: true });
    expect(on.data!.updateSecurityPolicy).toEqual({ requireTwoFactor: true, unverifiedAccess: 'FULL' });

    // The member's existing token: account self-service only, with a code saying why.
    const refused = await gql(t.gatewayUrl, TenantUsersDocument, {}, { token: member.token });
    expect(codes(refused)).toEqual(['TWO_FACTOR_SETUP_REQUIRED']);
    expect(refused.data).toBeNull();
    expect((await gql(t.gatewayUrl, MeDocument, {}, { token: member.token })).data!.me.id).toBe(member.userId);
    const limited = await access(member.token);
    expect(limited.restrictions).toEqual(['TWO_FACTOR_SETUP_REQUIRED']);
    expect(limited.permissions.every((p) => p.startsWith('account:'))).toBe(true);
    expect(codes(await gql(t.gatewayUrl, TenantUsersDocument, {}, { token: secret }))).toEqual(['FORBIDDEN']);
    // The owner, who uses 2FA, is not limited.
    expect((await gql(t.gatewayUrl, TenantUsersDocument, {}, { token: owner.token })).errors).toBeUndefined();

    const { secret: totpSecret } = await turnOnTotp(t.gatewayUrl, member.token);
    expect((await gql(t.gatewayUrl, TenantUsersDocument, {}, { token: member.token })).errors).toBeUndefined();
    expect((await access(member.token)).restrictions).toEqual([]);
    expect((await gql(t.gatewayUrl, TenantUsersDocument, {}, { token: secret })).errors).toBeUndefined();

    // While the tenant requires it, it cannot be turned off.
    const off = await gql(
      t.gatewayUrl,
      DisableTotpDocument,
      { input: { password: 'member pass phrase', code: totpCodeAt(totpSecret, 1) } },
      { token: member.token },
    );
    expect(codes(off)).toEqual(['TWO_FACTOR_MANDATORY']);
  });

  it('applies to people who join later: they sign in, then must set it up', async () => {
    const email = `late-${Date.now()}@example.test`;
    await gql(t.gatewayUrl, InviteUserDocument, { input: { email, role: 'admin' } }, { token: owner.token });
    const token = tokenFrom(await waitForMail(t.config, email, SUBJECTS.invitation));
    const joined = await gql(t.gatewayUrl, AcceptInvitationDocument, {
      input: { token, password: 'late joiner phrase' },
    });
    const lateToken = joined.data!.acceptInvitation.accessToken;
    expect((await access(lateToken)).restrictions).toEqual(['TWO_FACTOR_SETUP_REQUIRED']);
    // An admin without 2FA cannot loosen the rule either.
    expect(codes(await setPolicy(lateToken, { requireTwoFactor: false }))).toEqual(['TWO_FACTOR_SETUP_REQUIRED']);
    const login = await gql(t.gatewayUrl, LoginDocument, { input: { email, password: 'late joiner phrase' } });
    expect((await access(login.data!.login.accessToken)).restrictions).toEqual(['TWO_FACTOR_SETUP_REQUIRED']);
  });

  it('records each change with before and after in the audit log', async () => {
    const log = await gql(
      t.gatewayUrl,
      AuditDetailsDocument,
      { filter: { action: 'security_policy_update' } },
      { token: owner.token },
    );
    expect(log.data!.auditLog.edges.map((e) => e.node)).toEqual([
      {
        action: 'security_policy_update',
        result: 'SUCCESS',
        actorId: owner.userId,
        details: {
          before: { requireTwoFactor: false, unverifiedAccess: 'FULL', passwordMinLength: 8, requireSso: false },
          after: { requireTwoFactor: true, unverifiedAccess: 'FULL', passwordMinLength: 8, requireSso: false },
        },
      },
    ]);
  });
});

describe('tenant security policy: members with an unconfirmed address', () => {
  let owner: Account;
  let unverified: { userId: string; token: string; email: string };

  beforeAll(async () => {
    owner = await signUp(t.gatewayUrl, 'Careful');
    // Someone with their own (unconfirmed) account joins the tenant by invitation.
    const own = await signUp(t.gatewayUrl, 'Elsewhere');
    await gql(
      t.gatewayUrl,
      InviteUserDocument,
      { input: { email: own.email, role: 'member' } },
      { token: owner.token },
    );
    const token = tokenFrom(await waitForMail(t.config, own.email, SUBJECTS.invitation));
    const joined = await gql(t.gatewayUrl, AcceptInvitationDocument, { input: { token, password: own.password } });
    unverified = { userId: own.userId, token: joined.data!.acceptInvitation.accessToken, email: own.email };
  });

  it('cannot be limited by an admin whose own address is unconfirmed', async () => {
    expect(codes(await setPolicy(owner.token, { unverifiedAccess: 'READ_ONLY' }))).toEqual(['POLICY_UNMET']);
    await confirmEmail(t.gatewayUrl, t.config, owner.email);
    expect(
      (await setPolicy(owner.token, { unverifiedAccess: 'READ_ONLY' })).data!.updateSecurityPolicy.unverifiedAccess,
    ).toBe('READ_ONLY');
  });

  it('READ_ONLY lets them read but not change anything; ACCOUNT_ONLY only their account; confirming lifts it', async () => {
    expect((await gql(t.gatewayUrl, TenantUsersDocument, {}, { token: unverified.token })).errors).toBeUndefined();
    const write = await gql(t.gatewayUrl, CreateRoomDocument, { input: { name: 'nope' } }, { token: unverified.token });
    expect(codes(write)).toEqual(['EMAIL_VERIFICATION_REQUIRED']);

    await setPolicy(owner.token, { unverifiedAccess: 'ACCOUNT_ONLY' });
    expect(codes(await gql(t.gatewayUrl, TenantUsersDocument, {}, { token: unverified.token }))).toEqual([
      'EMAIL_VERIFICATION_REQUIRED',
    ]);
    expect((await access(unverified.token)).restrictions).toEqual(['EMAIL_VERIFICATION_REQUIRED']);

    await confirmEmail(t.gatewayUrl, t.config, unverified.email);
    expect(
      (await gql(t.gatewayUrl, CreateRoomDocument, { input: { name: 'yes' } }, { token: unverified.token })).errors,
    ).toBeUndefined();
    expect((await access(unverified.token)).restrictions).toEqual([]);
  });

  it("is the tenant's own rule: other tenants and their members are not affected", async () => {
    const other = await signUp(t.gatewayUrl, 'Relaxed');
    const room = await gql(t.gatewayUrl, CreateRoomDocument, { input: { name: 'free' } }, { token: other.token });
    expect(room.errors).toBeUndefined();
    expect(await policy(other.token)).toEqual({ requireTwoFactor: false, unverifiedAccess: 'FULL' });
  });
});

describe('tenant security policy: longer passwords', () => {
  it("applies the strictest minimum of an account's tenants when a password is set", async () => {
    const owner = await signUp(t.gatewayUrl, 'Long Passwords');
    for (const passwordMinLength of [7, 129]) {
      expect(
        codes(
          await gql(
            t.gatewayUrl,
            UpdateSecurityPolicyDocument,
            { input: { passwordMinLength } },
            { token: owner.token },
          ),
        ),
      ).toEqual(['INVALID_POLICY']);
    }
    await gql(t.gatewayUrl, UpdateSecurityPolicyDocument, { input: { passwordMinLength: 16 } }, { token: owner.token });
    // A newcomer sets a password through the invitation: the tenant's minimum applies.
    const email = `long-${Date.now()}@example.test`;
    await gql(t.gatewayUrl, InviteUserDocument, { input: { email, role: 'member' } }, { token: owner.token });
    const token = tokenFrom(await waitForMail(t.config, email, SUBJECTS.invitation));
    const short = await gql(t.gatewayUrl, AcceptInvitationDocument, { input: { token, password: 'eleven char' } });
    expect(codes(short)).toEqual(['WEAK_PASSWORD']);
    expect(short.errors![0].message).toContain('16');
    const joined = await gql(t.gatewayUrl, AcceptInvitationDocument, {
      input: { token, password: 'sixteen chars ok!' },
    });
    expect(joined.errors).toBeUndefined();
    // The owner too, when changing theirs; other tenants' members are not affected.
    const change = (account: Account, newPassword: string) =>
      gql(
        t.gatewayUrl,
        ChangePasswordDocument,
        { input: { currentPassword: account.password, newPassword } },
        { token: account.token },
      );
    expect(codes(await change(owner, 'only twelve!'))).toEqual(['WEAK_PASSWORD']);
    const elsewhere = await signUp(t.gatewayUrl, 'Short Passwords');
    expect((await change(elsewhere, 'only twelve!')).errors).toBeUndefined();
  });
});
