import {
  AuditDetailsDocument,
  CreateApiKeyDocument,
  CreateRoleDocument,
  GrantSuperAdminDocument,
  ImpersonateTenantDocument,
  ImpersonationAuditDocument,
  TenantUsersDocument,
  MyAccessDocument,
  PlatformAuditLogDocument,
  RegisterDocument,
  RevokeSuperAdminDocument,
  SuperAdminsDocument,
} from './generated/graphql';
import { codes } from './support/gql';
import { turnOnTotp, uniqueEmail } from './support/fixtures';
import type { User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';

const ROOT = uniqueEmail('root');
const OPS = uniqueEmail('ops');
let t: TestPlatform;
let root: User;
let alice: User;
let bob: User;

beforeAll(async () => {
  t = await startTestPlatform(undefined, { SUPER_ADMIN_EMAILS: ` ${ROOT.toUpperCase()} , ${OPS}` });
  root = await t.signUp('Operator', ROOT);
  await root.confirmEmail();
  alice = await t.signUp('Alice Co');
  bob = await t.signUp('Bob Co');
});
afterAll(async () => {
  await t?.stop();
});

const access = (token: string) =>
  t
    .as(token)
    .gql(MyAccessDocument, {})
    .then((r) => r.data!.myAccess);
const auditOf = (token: string, tenantId?: string) =>
  t.as(token).gql(PlatformAuditLogDocument, { filter: tenantId ? { tenantId } : null, first: 100 });

describe('platform Super Admin', () => {
  it('holds no platform rights until the account uses two-factor sign-in', async () => {
    expect(codes(await root.gql(SuperAdminsDocument, {}))).toEqual(['FORBIDDEN']);
    expect((await access(root.token)).roles).toEqual(['owner']);
    await root.turnOnTotp();
    const now = await access(root.token);
    expect(now.roles).toEqual(['owner', 'super_admin']);
    expect(now.permissions).toEqual(expect.arrayContaining(['platform:admins', 'platform:audit']));
    const admins = await root.gql(SuperAdminsDocument, {});
    expect(admins.data!.superAdmins).toEqual([
      { userId: root.userId, email: ROOT, viaConfiguration: true, twoFactorEnabled: true, grantedBy: null },
    ]);
  });

  it("reads any tenant's audit log, and each such read is audited in the reader's tenant", async () => {
    const one = await auditOf(root.token, alice.tenantId);
    const nodes = one.data!.platformAuditLog.edges.map((e) => e.node);
    expect(nodes.length).toBeGreaterThan(0);
    expect(nodes.every((n) => n.tenantId === alice.tenantId)).toBe(true);
    expect(nodes.map((n) => n.action)).toContain('register');
    const all = (await auditOf(root.token)).data!.platformAuditLog.edges.map((e) => e.node.tenantId);
    expect(new Set(all)).toEqual(new Set([root.tenantId, alice.tenantId, bob.tenantId]));
    const own = await root.gql(AuditDetailsDocument, { filter: { action: 'platform_audit_read' } });
    expect(own.data!.auditLog.edges[0].node).toMatchObject({ actorId: root.userId, details: { filter: {} } });
    expect(own.data!.auditLog.edges.at(-1)!.node.details).toEqual({ filter: { tenantId: alice.tenantId } });
  });

  it('is out of reach of tenant owners, API keys and tenant-defined roles', async () => {
    expect(codes(await auditOf(alice.token, root.tenantId))).toEqual(['FORBIDDEN']);
    expect(codes(await alice.gql(GrantSuperAdminDocument, { email: alice.email }))).toEqual(['FORBIDDEN']);
    const key = await root.gql(CreateApiKeyDocument, { input: { name: 'ops', permissions: ['platform:audit'] } });
    expect(codes(key)).toEqual(['INVALID_API_KEY']);
    const role = await alice.gql(CreateRoleDocument, { input: { name: 'auditor', permissions: ['platform:audit'] } });
    expect(codes(role)).toEqual(['INVALID_ROLE']);
  });

  it('can be granted and revoked over the API, effective on the next request', async () => {
    expect(codes(await root.gql(GrantSuperAdminDocument, { email: 'nobody@example.test' }))).toEqual([
      'USER_NOT_FOUND',
    ]);
    const granted = await root.gql(GrantSuperAdminDocument, { email: alice.email });
    expect(granted.data!.grantSuperAdmin).toEqual({
      userId: alice.userId,
      viaConfiguration: false,
      grantedBy: root.userId,
    });
    // Still no platform rights without 2FA; with it, at once on the same token.
    expect(codes(await auditOf(alice.token, bob.tenantId))).toEqual(['FORBIDDEN']);
    await alice.turnOnTotp();
    expect((await auditOf(alice.token, bob.tenantId)).errors).toBeUndefined();

    expect(codes(await alice.gql(RevokeSuperAdminDocument, { userId: root.userId }))).toEqual([
      'CONFIGURED_SUPER_ADMIN',
    ]);
    expect((await root.gql(RevokeSuperAdminDocument, { userId: alice.userId })).data).toEqual({
      revokeSuperAdmin: true,
    });
    expect(codes(await auditOf(alice.token, bob.tenantId))).toEqual(['FORBIDDEN']);
    const log = await root.gql(AuditDetailsDocument, { filter: { actorId: root.userId } });
    expect(log.data!.auditLog.edges.map((e) => e.node.action)).toEqual(
      expect.arrayContaining(['super_admin_grant', 'super_admin_revoke']),
    );
  });

  it("enters another tenant as admin, flagged in the context and in that tenant's audit log", async () => {
    expect(codes(await root.gql(ImpersonateTenantDocument, { tenantId: bob.tenantId, reason: 'x' }))).toEqual([
      'INVALID_REASON',
    ]);
    expect(codes(await root.gql(ImpersonateTenantDocument, { tenantId: root.tenantId, reason: 'own tenant' }))).toEqual(
      ['ALREADY_A_MEMBER'],
    );
    expect(
      codes(await bob.gql(ImpersonateTenantDocument, { tenantId: root.tenantId, reason: 'support request' })),
    ).toEqual(['FORBIDDEN']);
    const entered = await root.gql(ImpersonateTenantDocument, { tenantId: bob.tenantId, reason: 'Support ticket #42' });
    expect(entered.data!.impersonateTenant.tenant.id).toBe(bob.tenantId);
    const token = entered.data!.impersonateTenant.accessToken;
    expect((await access(token)).roles).toEqual(['admin', 'super_admin']);
    const members = await t.as(token).gql(TenantUsersDocument, {});
    expect(members.data!.tenantUsers.map((u) => u.user.id)).toEqual([bob.userId]);
    await t.as(token).gql(CreateRoleDocument, { input: { name: 'Support fix', permissions: ['products:read'] } });

    const theirLog = await bob.gql(ImpersonationAuditDocument, { filter: { actorId: root.userId } });
    expect(theirLog.data!.auditLog.edges.map((e) => [e.node.action, e.node.impersonatorId])).toEqual([
      ['role_create', root.userId],
      ['impersonation_start', root.userId],
    ]);
    expect(theirLog.data!.auditLog.edges[1].node.details).toEqual({ reason: 'Support ticket #42' });
    const ownLog = await root.gql(ImpersonationAuditDocument, { filter: { action: 'impersonation_start' } });
    expect(ownLog.data!.auditLog.edges[0].node).toMatchObject({
      target: `tenant:${bob.tenantId}`,
      details: { reason: 'Support ticket #42' },
    });
  });

  it('ends the entry when the platform rights go', async () => {
    const carol = await t.signUp('Carol Ops');
    await root.gql(GrantSuperAdminDocument, { email: carol.email });
    await carol.turnOnTotp();
    const entered = await carol.gql(ImpersonateTenantDocument, { tenantId: bob.tenantId, reason: 'Billing question' });
    const token = entered.data!.impersonateTenant.accessToken;
    expect((await t.as(token).gql(TenantUsersDocument, {})).errors).toBeUndefined();
    await root.gql(RevokeSuperAdminDocument, { userId: carol.userId });
    expect((await t.as(token).gql(TenantUsersDocument, {})).status).toBe(401);
    expect(
      codes(await carol.gql(ImpersonateTenantDocument, { tenantId: bob.tenantId, reason: 'again please' })),
    ).toEqual(['FORBIDDEN']);
  });
});

describe('registrations naming a Super Admin’s address', () => {
  it('get an account of their own with no platform rights, even with two-factor sign-in', async () => {
    const copy = await t.anonymous().gql(RegisterDocument, {
      input: { email: ROOT, password: 'imposter pass phrase', tenantName: 'Imposter' },
    });
    const imposter = copy.data!.register;
    expect(imposter.user).toEqual({ id: expect.not.stringMatching(root.userId), email: ROOT });
    await turnOnTotp(t.gatewayUrl, imposter.accessToken);
    const rights = await access(imposter.accessToken);
    expect(rights.roles).toEqual(['owner']);
    expect(rights.permissions.filter((p) => p.startsWith('platform:'))).toEqual([]);
    const admins = await root.gql(SuperAdminsDocument, {});
    expect(admins.data!.superAdmins.map((a) => a.userId)).toEqual([root.userId]);
  });

  it('that nobody holds yet give no platform rights until the mailbox confirms the address', async () => {
    // Whoever registers a configured address first holds it, but it counts only once the link mailed to it is followed.
    const first = await t.signUp('First comer', OPS);
    await first.turnOnTotp();
    const rights = await access(first.token);
    expect(rights.roles).toEqual(['owner']);
    expect(rights.permissions.filter((p) => p.startsWith('platform:'))).toEqual([]);
    expect(codes(await auditOf(first.token, alice.tenantId))).toEqual(['FORBIDDEN']);
    expect((await root.gql(SuperAdminsDocument, {})).data!.superAdmins.map((a) => a.userId)).not.toContain(
      first.userId,
    );
    await first.confirmEmail();
    expect((await access(first.token)).roles).toEqual(['owner', 'super_admin']);
    const admins = (await root.gql(SuperAdminsDocument, {})).data!.superAdmins;
    expect(admins.find((a) => a.userId === first.userId)).toMatchObject({ email: OPS, viaConfiguration: true });
  });
});
