import {
  CreateRoleDocument,
  InstallModuleDocument,
  ModulesDocument,
  MyAccessDocument,
  PermissionCatalogDocument,
  PublishModuleDocument,
  UninstallModuleDocument,
} from './generated/graphql';
import { codes, gql } from './support/gql';
import { confirmEmail, joinByInvitation, signUp, turnOnTotp, uniqueEmail, type Account } from './support/fixtures';
import { startTestPlatform, type TestPlatform } from './support/platform';

const ROOT = uniqueEmail('operator');
let t: TestPlatform;
let root: Account;
let owner: Account;

beforeAll(async () => {
  t = await startTestPlatform(undefined, { SUPER_ADMIN_EMAILS: ROOT });
  root = await signUp(t.gatewayUrl, 'Operators', ROOT);
  // A Super Admin by configuration holds the address confirmed.
  await confirmEmail(t.gatewayUrl, t.config, ROOT);
  await turnOnTotp(t.gatewayUrl, root.token);
  owner = await signUp(t.gatewayUrl, 'Module Shop');
});
afterAll(async () => {
  await t?.stop();
});

const install = (account: Account, id: string) =>
  gql(t.gatewayUrl, InstallModuleDocument, { id }, { token: account.token });
const uninstall = (account: Account, id: string) =>
  gql(t.gatewayUrl, UninstallModuleDocument, { id }, { token: account.token });
const modules = (account: Account) =>
  gql(t.gatewayUrl, ModulesDocument, {}, { token: account.token }).then((r) => r.data!);
const manifest = (id: string, dependencies: string[] = [], version = '1.0.0') => ({
  id,
  name: id,
  version,
  minPlatformVersion: '0.1.0',
  dependencies,
  permissions: [`${id}:use`],
  entitlements: { [`${id}.seats`]: 5 },
  emits: [],
  consumes: [],
});

describe('module marketplace', () => {
  it('lists the catalog with what the tenant installed', async () => {
    const { modules: list, entitlements } = await modules(owner);
    expect(list.map((m) => m.id)).toEqual(expect.arrayContaining(['chat', 'billing', 'affiliates', 'ai-assistant']));
    expect(list.find((m) => m.id === 'affiliates')).toMatchObject({
      dependencies: ['billing'],
      installed: false,
      installedVersion: null,
    });
    expect(entitlements).toEqual([]);
  });

  it('installs only with its dependencies, and never removes one another module needs', async () => {
    expect(codes(await install(owner, 'affiliates'))).toEqual(['MODULE_DEPENDENCY_MISSING']);
    expect(codes(await install(owner, 'no-such-module'))).toEqual(['MODULE_NOT_FOUND']);
    expect((await install(owner, 'billing')).data!.installModule).toEqual({
      id: 'billing',
      installed: true,
      installedVersion: '1.0.0',
    });
    expect(codes(await install(owner, 'billing'))).toEqual(['MODULE_ALREADY_INSTALLED']);
    expect((await install(owner, 'affiliates')).errors).toBeUndefined();
    expect(codes(await uninstall(owner, 'billing'))).toEqual(['MODULE_IN_USE']);
    const { modules: list, entitlements } = await modules(owner);
    expect(
      list
        .filter((m) => m.installed)
        .map((m) => m.id)
        .sort(),
    ).toEqual(['affiliates', 'billing']);
    expect(entitlements).toEqual([
      { key: 'affiliates.links', value: 1000, moduleId: 'affiliates' },
      { key: 'billing.invoices', value: true, moduleId: 'billing' },
    ]);
  });

  it("grants the module's permissions while installed (admins hold them, custom roles may include them)", async () => {
    expect((await gql(t.gatewayUrl, MyAccessDocument, {}, { token: owner.token })).data!.myAccess.permissions).toEqual(
      expect.arrayContaining(['affiliates:manage', 'affiliates:read', 'billing:manage']),
    );
    expect(
      (await gql(t.gatewayUrl, PermissionCatalogDocument, {}, { token: owner.token })).data!.permissionCatalog,
    ).toContain('affiliates:read');
    const role = await gql(
      t.gatewayUrl,
      CreateRoleDocument,
      { input: { name: 'Partner manager', permissions: ['affiliates:read'] } },
      { token: owner.token },
    );
    expect(role.errors).toBeUndefined();
    const member = await joinByInvitation(t.gatewayUrl, t.config, owner);
    expect(
      (await gql(t.gatewayUrl, MyAccessDocument, {}, { token: member.token })).data!.myAccess.permissions,
    ).not.toContain('affiliates:read');
    // Another tenant without the module cannot use its permissions.
    const other = await signUp(t.gatewayUrl, 'No Modules');
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          CreateRoleDocument,
          { input: { name: 'x', permissions: ['affiliates:read'] } },
          { token: other.token },
        ),
      ),
    ).toEqual(['INVALID_ROLE']);

    expect((await uninstall(owner, 'affiliates')).data).toEqual({ uninstallModule: true });
    expect(
      (await gql(t.gatewayUrl, MyAccessDocument, {}, { token: owner.token })).data!.myAccess.permissions,
    ).not.toContain('affiliates:read');
    expect(codes(await uninstall(owner, 'affiliates'))).toEqual(['MODULE_NOT_INSTALLED']);
    expect(codes(await gql(t.gatewayUrl, InstallModuleDocument, { id: 'chat' }, { token: member.token }))).toEqual([
      'FORBIDDEN',
    ]);
  });

  it('publishes manifests only with known dependencies, no cycles and a compatible platform', async () => {
    const publish = (input: ReturnType<typeof manifest>) =>
      gql(t.gatewayUrl, PublishModuleDocument, { input }, { token: root.token });
    expect(
      codes(await gql(t.gatewayUrl, PublishModuleDocument, { input: manifest('reports') }, { token: owner.token })),
    ).toEqual(['FORBIDDEN']);
    expect(codes(await publish(manifest('reports', ['warehouse'])))).toEqual(['MODULE_DEPENDENCY_MISSING']);
    expect(codes(await publish(manifest('loop', ['loop'])))).toEqual(['MODULE_DEPENDENCY_CYCLE']);
    expect(codes(await publish({ ...manifest('future'), minPlatformVersion: '99.0.0' }))).toEqual([
      'MODULE_INCOMPATIBLE',
    ]);
    expect(codes(await publish({ ...manifest('bad'), permissions: ['platform:tenants'] }))).toEqual(['INVALID_MODULE']);
    // Entitlements: at most 50, keys and text values of bounded length.
    for (const entitlements of [
      { ['k'.repeat(101)]: 1 },
      { 'reports.note': 'x'.repeat(501) },
      Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`e${i}`, i])),
    ]) {
      expect(codes(await publish({ ...manifest('bad'), entitlements } as ReturnType<typeof manifest>))).toEqual([
        'INVALID_MODULE',
      ]);
    }
    expect((await publish(manifest('warehouse'))).errors).toBeUndefined();
    expect((await publish(manifest('reports', ['warehouse']))).data!.publishModule).toEqual({
      id: 'reports',
      version: '1.0.0',
      dependencies: ['warehouse'],
    });
    // warehouse 2.0 depending on reports would close a cycle.
    expect(codes(await publish(manifest('warehouse', ['reports'], '2.0.0')))).toEqual(['MODULE_DEPENDENCY_CYCLE']);
    expect(codes(await publish(manifest('warehouse', [], '1.0.0')))).toEqual(['INVALID_MODULE']);
    expect((await install(owner, 'warehouse')).errors).toBeUndefined();
    expect((await install(owner, 'reports')).data!.installModule.installedVersion).toBe('1.0.0');
  });
});
