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
import { codes } from './support/gql';
import { confirmEmail, totpCodeAt } from './support/fixtures';
import { SUBJECTS, tokenFrom, waitForMail } from './support/mailbox';
import type { SignedIn, User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(async () => {
  await t?.stop();
});

const policy = (token: string) =>
  t
    .as(token)
    .gql(SecurityPolicyDocument, {})
    .then((r) => r.data!.securityPolicy);
const access = (token: string) =>
  t
    .as(token)
    .gql(MyAccessDocument, {})
    .then((r) => r.data!.myAccess);
const setPolicy = (token: string, input: { requireTwoFactor?: boolean; unverifiedAccess?: UnverifiedAccess }) =>
  t.as(token).gql(UpdateSecurityPolicyDocument, { input });

describe('tenant security policy: mandatory two-factor authentication', () => {
  let owner: User;
  let member: User;

  beforeAll(async () => {
    owner = await t.signUp('Strict');
    member = await owner.invite();
  });

  it('cannot be required by an admin who does not use it', async () => {
    expect(codes(await setPolicy(owner.token, { requireTwoFactor: true }))).toEqual(['POLICY_UNMET']);
    expect(await policy(owner.token)).toEqual({ requireTwoFactor: false, unverifiedAccess: 'FULL' });
    expect(codes(await setPolicy(member.token, { requireTwoFactor: true }))).toEqual(['FORBIDDEN']);
  });

  it('limits members without 2FA to their own account until they set it up, then lifts at once', async () => {
    // An API key the member made before the rule: it follows its creator's rights.
    const key = await member.gql(CreateApiKeyDocument, { input: { name: 'ci', permissions: ['users:read'] } });
    const secret = key.data!.createApiKey.secret;
    expect((await t.as(secret).gql(TenantUsersDocument, {})).errors).toBeUndefined();

    await owner.turnOnTotp();
    const on = await setPolicy(owner.token, { requireTwoFactor: true });
    expect(on.data!.updateSecurityPolicy).toEqual({ requireTwoFactor: true, unverifiedAccess: 'FULL' });

    // The member's existing token: account self-service only, with a code saying why.
    const refused = await member.gql(TenantUsersDocument, {});
    expect(codes(refused)).toEqual(['TWO_FACTOR_SETUP_REQUIRED']);
    expect(refused.data).toBeNull();
    expect((await member.gql(MeDocument, {})).data!.me.id).toBe(member.userId);
    const limited = await access(member.token);
    expect(limited.restrictions).toEqual(['TWO_FACTOR_SETUP_REQUIRED']);
    expect(limited.permissions.every((p) => p.startsWith('account:'))).toBe(true);
    expect(codes(await t.as(secret).gql(TenantUsersDocument, {}))).toEqual(['FORBIDDEN']);
    // The owner, who uses 2FA, is not limited.
    expect((await owner.gql(TenantUsersDocument, {})).errors).toBeUndefined();

    const { secret: totpSecret } = await member.turnOnTotp();
    expect((await member.gql(TenantUsersDocument, {})).errors).toBeUndefined();
    expect((await access(member.token)).restrictions).toEqual([]);
    expect((await t.as(secret).gql(TenantUsersDocument, {})).errors).toBeUndefined();

    // While the tenant requires it, it cannot be turned off.
    const off = await member.gql(DisableTotpDocument, {
      input: { password: 'member pass phrase', code: totpCodeAt(totpSecret, 1) },
    });
    expect(codes(off)).toEqual(['TWO_FACTOR_MANDATORY']);
  });

  it('applies to people who join later: they sign in, then must set it up', async () => {
    const email = `late-${Date.now()}@example.test`;
    await owner.gql(InviteUserDocument, { input: { email, role: 'admin' } });
    const token = tokenFrom(await waitForMail(t.config, email, SUBJECTS.invitation));
    const joined = await t.anonymous().gql(AcceptInvitationDocument, {
      input: { token, password: 'late joiner phrase' },
    });
    const lateToken = joined.data!.acceptInvitation.accessToken;
    expect((await access(lateToken)).restrictions).toEqual(['TWO_FACTOR_SETUP_REQUIRED']);
    // An admin without 2FA cannot loosen the rule either.
    expect(codes(await setPolicy(lateToken, { requireTwoFactor: false }))).toEqual(['TWO_FACTOR_SETUP_REQUIRED']);
    const login = await t.anonymous().gql(LoginDocument, { input: { email, password: 'late joiner phrase' } });
    expect((await access(login.data!.login.accessToken)).restrictions).toEqual(['TWO_FACTOR_SETUP_REQUIRED']);
  });

  it('records each change with before and after in the audit log', async () => {
    const log = await owner.gql(AuditDetailsDocument, { filter: { action: 'security_policy_update' } });
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
  let owner: User;
  let unverified: SignedIn & { userId: string; email: string };

  beforeAll(async () => {
    owner = await t.signUp('Careful');
    // Someone with their own (unconfirmed) account joins the tenant by invitation.
    const own = await t.signUp('Elsewhere');
    await owner.gql(InviteUserDocument, { input: { email: own.email, role: 'member' } });
    const token = tokenFrom(await waitForMail(t.config, own.email, SUBJECTS.invitation));
    const joined = await t.anonymous().gql(AcceptInvitationDocument, { input: { token, password: own.password } });
    unverified = Object.assign(t.as(joined.data!.acceptInvitation.accessToken), {
      userId: own.userId,
      email: own.email,
    });
  });

  it('cannot be limited by an admin whose own address is unconfirmed', async () => {
    expect(codes(await setPolicy(owner.token, { unverifiedAccess: 'READ_ONLY' }))).toEqual(['POLICY_UNMET']);
    await owner.confirmEmail();
    expect(
      (await setPolicy(owner.token, { unverifiedAccess: 'READ_ONLY' })).data!.updateSecurityPolicy.unverifiedAccess,
    ).toBe('READ_ONLY');
  });

  it('READ_ONLY lets them read but not change anything; ACCOUNT_ONLY only their account; confirming lifts it', async () => {
    expect((await unverified.gql(TenantUsersDocument, {})).errors).toBeUndefined();
    const write = await unverified.gql(CreateRoomDocument, { input: { name: 'nope' } });
    expect(codes(write)).toEqual(['EMAIL_VERIFICATION_REQUIRED']);

    await setPolicy(owner.token, { unverifiedAccess: 'ACCOUNT_ONLY' });
    expect(codes(await unverified.gql(TenantUsersDocument, {}))).toEqual(['EMAIL_VERIFICATION_REQUIRED']);
    expect((await access(unverified.token)).restrictions).toEqual(['EMAIL_VERIFICATION_REQUIRED']);

    await confirmEmail(t.gatewayUrl, t.config, unverified.email);
    expect((await unverified.gql(CreateRoomDocument, { input: { name: 'yes' } })).errors).toBeUndefined();
    expect((await access(unverified.token)).restrictions).toEqual([]);
  });

  it("is the tenant's own rule: other tenants and their members are not affected", async () => {
    const other = await t.signUp('Relaxed');
    const room = await other.gql(CreateRoomDocument, { input: { name: 'free' } });
    expect(room.errors).toBeUndefined();
    expect(await policy(other.token)).toEqual({ requireTwoFactor: false, unverifiedAccess: 'FULL' });
  });
});

describe('tenant security policy: longer passwords', () => {
  it("applies the strictest minimum of an account's tenants when a password is set", async () => {
    const owner = await t.signUp('Long Passwords');
    for (const passwordMinLength of [7, 129]) {
      expect(codes(await owner.gql(UpdateSecurityPolicyDocument, { input: { passwordMinLength } }))).toEqual([
        'INVALID_POLICY',
      ]);
    }
    await owner.gql(UpdateSecurityPolicyDocument, { input: { passwordMinLength: 16 } });
    // A newcomer sets a password through the invitation: the tenant's minimum applies.
    const email = `long-${Date.now()}@example.test`;
    await owner.gql(InviteUserDocument, { input: { email, role: 'member' } });
    const token = tokenFrom(await waitForMail(t.config, email, SUBJECTS.invitation));
    const short = await t.anonymous().gql(AcceptInvitationDocument, { input: { token, password: 'eleven char' } });
    expect(codes(short)).toEqual(['WEAK_PASSWORD']);
    expect(short.errors![0].message).toContain('16');
    const joined = await t.anonymous().gql(AcceptInvitationDocument, {
      input: { token, password: 'sixteen chars ok!' },
    });
    expect(joined.errors).toBeUndefined();
    // The owner too, when changing theirs; other tenants' members are not affected.
    const change = (account: User, newPassword: string) =>
      account.gql(ChangePasswordDocument, { input: { currentPassword: account.password, newPassword } });
    expect(codes(await change(owner, 'only twelve!'))).toEqual(['WEAK_PASSWORD']);
    const elsewhere = await t.signUp('Short Passwords');
    expect((await change(elsewhere, 'only twelve!')).errors).toBeUndefined();
  });
});
