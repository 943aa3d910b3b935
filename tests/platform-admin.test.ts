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
import { codes, gql } from './support/gql';
import { confirmEmail, signUp, turnOnTotp, uniqueEmail, type Account } from './support/fixtures';
import { startTestPlatform, type TestPlatform } from './support/platform';

const ROOT = uniqueEmail('root');
const OPS = uniqueEmail('ops');
let t: TestPlatform;
let root: Account;
let alice: Account;
let bob: Account;

beforeAll(async () => {
  t = await startTestPlatform(undefined, { SUPER_ADMIN_EMAILS: ` ${ROOT.toUpperCase()} , ${OPS}` });
  root = await signUp(t.gatewayUrl, 'Operator', ROOT);
  await confirmEmail(t.gatewayUrl, t.config, ROOT);
  alice = await signUp(t.gatewayUrl, 'Alice Co');
  bob = await signUp(t.gatewayUrl, 'Bob Co');
});
afterAll(async () => {
  await t?.stop();
});

const access = (token: string) => gql(t.gatewayUrl, MyAccessDocument, {}, { token }).then((r) => r.data!.myAccess);
const auditOf = (token: string, tenantId?: string) =>
  gql(t.gatewayUrl, PlatformAuditLogDocument, { filter: tenantId ? { tenantId } : null, first: 100 }, { token });

describe('platform Super Admin', () => {
  it('holds no platform rights until the account uses two-factor sign-in', async () => {
    expect(codes(await gql(t.gatewayUrl, SuperAdminsDocument, {}, { token: root.token }))).toEqual(['FORBIDDEN']);
    expect((await access(root.token)).roles).toEqual(['owner']);
    await turnOnTotp(t.gatewayUrl, root.token);
    const now = await access(root.token);
    expect(now.roles).toEqual(['owner', 'super_admin']);
    expect(now.permissions).toEqual(expect.arrayContaining(['platform:admins', 'platform:audit']));
    const admins = await gql(t.gatewayUrl, SuperAdminsDocument, {}, { token: root.token });
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
    const own = await gql(
      t.gatewayUrl,
      AuditDetailsDocument,
      { filter: { action: 'platform_audit_read' } },
      { token: root.token },
    );
    expect(own.data!.auditLog.edges[0].node).toMatchObject({ actorId: root.userId, details: { filter: {} } });
    expect(own.data!.auditLog.edges.at(-1)!.node.details).toEqual({ filter: { tenantId: alice.tenantId } });
  });

  it('is out of reach of tenant owners, API keys and tenant-defined roles', async () => {
    expect(codes(await auditOf(alice.token, root.tenantId))).toEqual(['FORBIDDEN']);
    expect(
      codes(await gql(t.gatewayUrl, GrantSuperAdminDocument, { email: alice.email }, { token: alice.token })),
    ).toEqual(['FORBIDDEN']);
    const key = await gql(
      t.gatewayUrl,
      CreateApiKeyDocument,
      { input: { name: 'ops', permissions: ['platform:audit'] } },
      { token: root.token },
    );
    expect(codes(key)).toEqual(['INVALID_API_KEY']);
    const role = await gql(
      t.gatewayUrl,
      CreateRoleDocument,
      { input: { name: 'auditor', permissions: ['platform:audit'] } },
      { token: alice.token },
    );
    expect(codes(role)).toEqual(['INVALID_ROLE']);
  });

  it('can be granted and revoked over the API, effective on the next request', async () => {
    expect(
      codes(await gql(t.gatewayUrl, GrantSuperAdminDocument, { email: 'nobody@example.test' }, { token: root.token })),
    ).toEqual(['USER_NOT_FOUND']);
    const granted = await gql(t.gatewayUrl, GrantSuperAdminDocument, { email: alice.email }, { token: root.token });
    expect(granted.data!.grantSuperAdmin).toEqual({
      userId: alice.userId,
      viaConfiguration: false,
      grantedBy: root.userId,
    });
    // Still no platform rights without 2FA; with it, at once on the same token.
    expect(codes(await auditOf(alice.token, bob.tenantId))).toEqual(['FORBIDDEN']);
    await turnOnTotp(t.gatewayUrl, alice.token);
    expect((await auditOf(alice.token, bob.tenantId)).errors).toBeUndefined();

    expect(
      codes(await gql(t.gatewayUrl, RevokeSuperAdminDocument, { userId: root.userId }, { token: alice.token })),
    ).toEqual(['CONFIGURED_SUPER_ADMIN']);
    expect(
      (await gql(t.gatewayUrl, RevokeSuperAdminDocument, { userId: alice.userId }, { token: root.token })).data,
    ).toEqual({ revokeSuperAdmin: true });
    expect(codes(await auditOf(alice.token, bob.tenantId))).toEqual(['FORBIDDEN']);
    const log = await gql(
      t.gatewayUrl,
      AuditDetailsDocument,
      { filter: { actorId: root.userId } },
      { token: root.token },
    );
    expect(log.data!.auditLog.edges.map((e) => e.node.action)).toEqual(
      expect.arrayContaining(['super_admin_grant', 'super_admin_revoke']),
    );
  });

  it("enters another tenant as admin, flagged in the context and in that tenant's audit log", async () => {
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          ImpersonateTenantDocument,
          { tenantId: bob.tenantId, reason: 'x' },
          { token: root.token },
        ),
      ),
    ).toEqual(['INVALID_REASON']);
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          ImpersonateTenantDocument,
          { tenantId: root.tenantId, reason: 'own tenant' },
          { token: root.token },
        ),
      ),
    ).toEqual(['ALREADY_A_MEMBER']);
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          ImpersonateTenantDocument,
          { tenantId: root.tenantId, reason: 'support request' },
          { token: bob.token },
        ),
      ),
    ).toEqual(['FORBIDDEN']);
    const entered = await gql(
      t.gatewayUrl,
      ImpersonateTenantDocument,
      { tenantId: bob.tenantId, reason: 'Support ticket #42' },
      { token: root.token },
    );
    expect(entered.data!.impersonateTenant.tenant.id).toBe(bob.tenantId);
    const token = entered.data!.impersonateTenant.accessToken;
    expect((await access(token)).roles).toEqual(['admin', 'super_admin']);
    const members = await gql(t.gatewayUrl, TenantUsersDocument, {}, { token });
    expect(members.data!.tenantUsers.map((u) => u.user.id)).toEqual([bob.userId]);
    await gql(
      t.gatewayUrl,
      CreateRoleDocument,
      { input: { name: 'Support fix', permissions: ['products:read'] } },
      { token },
    );

    const theirLog = await gql(
      t.gatewayUrl,
      ImpersonationAuditDocument,
      { filter: { actorId: root.userId } },
      { token: bob.token },
    );
    expect(theirLog.data!.auditLog.edges.map((e) => [e.node.action, e.node.impersonatorId])).toEqual([
      ['role_create', root.userId],
      ['impersonation_start', root.userId],
    ]);
    expect(theirLog.data!.auditLog.edges[1].node.details).toEqual({ reason: 'Support ticket #42' });
    const ownLog = await gql(
      t.gatewayUrl,
      ImpersonationAuditDocument,
      { filter: { action: 'impersonation_start' } },
      { token: root.token },
    );
    expect(ownLog.data!.auditLog.edges[0].node).toMatchObject({
      target: `tenant:${bob.tenantId}`,
      details: { reason: 'Support ticket #42' },
    });
  });

  it('ends the entry when the platform rights go', async () => {
    const carol = await signUp(t.gatewayUrl, 'Carol Ops');
    await gql(t.gatewayUrl, GrantSuperAdminDocument, { email: carol.email }, { token: root.token });
    await turnOnTotp(t.gatewayUrl, carol.token);
    const entered = await gql(
      t.gatewayUrl,
      ImpersonateTenantDocument,
      { tenantId: bob.tenantId, reason: 'Billing question' },
      { token: carol.token },
    );
    const token = entered.data!.impersonateTenant.accessToken;
    expect((await gql(t.gatewayUrl, TenantUsersDocument, {}, { token })).errors).toBeUndefined();
    await gql(t.gatewayUrl, RevokeSuperAdminDocument, { userId: carol.userId }, { token: root.token });
    expect((await gql(t.gatewayUrl, TenantUsersDocument, {}, { token })).status).toBe(401);
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          ImpersonateTenantDocument,
          { tenantId: bob.tenantId, reason: 'again please' },
          { token: carol.token },
        ),
      ),
    ).toEqual(['FORBIDDEN']);
  });
});

describe('registrations naming a Super Admin’s address', () => {
  it('get an account of their own with no platform rights, even with two-factor sign-in', async () => {
    const copy = await gql(t.gatewayUrl, RegisterDocument, {
      input: { email: ROOT, password: 'imposter pass phrase', tenantName: 'Imposter' },
    });
    const imposter = copy.data!.register;
    expect(imposter.user).toEqual({ id: expect.not.stringMatching(root.userId), email: ROOT });
    await turnOnTotp(t.gatewayUrl, imposter.accessToken);
    const rights = await access(imposter.accessToken);
    expect(rights.roles).toEqual(['owner']);
    expect(rights.permissions.filter((p) => p.startsWith('platform:'))).toEqual([]);
    const admins = await gql(t.gatewayUrl, SuperAdminsDocument, {}, { token: root.token });
    expect(admins.data!.superAdmins.map((a) => a.userId)).toEqual([root.userId]);
  });

  it('that nobody holds yet give no platform rights until the mailbox confirms the address', async () => {
    // Whoever registers a configured address first holds it, but it counts only once the link mailed to it is followed.
    const first = await signUp(t.gatewayUrl, 'First comer', OPS);
    await turnOnTotp(t.gatewayUrl, first.token);
    const rights = await access(first.token);
    expect(rights.roles).toEqual(['owner']);
    expect(rights.permissions.filter((p) => p.startsWith('platform:'))).toEqual([]);
    expect(codes(await auditOf(first.token, alice.tenantId))).toEqual(['FORBIDDEN']);
    expect(
      (await gql(t.gatewayUrl, SuperAdminsDocument, {}, { token: root.token })).data!.superAdmins.map((a) => a.userId),
    ).not.toContain(first.userId);
    await confirmEmail(t.gatewayUrl, t.config, OPS);
    expect((await access(first.token)).roles).toEqual(['owner', 'super_admin']);
    const admins = (await gql(t.gatewayUrl, SuperAdminsDocument, {}, { token: root.token })).data!.superAdmins;
    expect(admins.find((a) => a.userId === first.userId)).toMatchObject({ email: OPS, viaConfiguration: true });
  });
});
