import {
  CreateRoleDocument,
  InstallModuleDocument,
  ModulesDocument,
  MyAccessDocument,
  PermissionCatalogDocument,
  PublishModuleDocument,
  UninstallModuleDocument,
} from './generated/graphql';
import { codes } from './support/gql';
import { uniqueEmail } from './support/fixtures';
import type { User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';

const ROOT = uniqueEmail('operator');
let t: TestPlatform;
let root: User;
let owner: User;

beforeAll(async () => {
  t = await startTestPlatform(undefined, { SUPER_ADMIN_EMAILS: ROOT });
  root = await t.signUp('Operators', ROOT);
  // A Super Admin by configuration holds the address confirmed.
  await root.confirmEmail();
  await root.turnOnTotp();
  owner = await t.signUp('Module Shop');
});
afterAll(async () => {
  await t?.stop();
});

const install = (account: User, id: string) => account.gql(InstallModuleDocument, { id });
const uninstall = (account: User, id: string) => account.gql(UninstallModuleDocument, { id });
const modules = (account: User) => account.gql(ModulesDocument, {}).then((r) => r.data!);
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
    expect((await owner.gql(MyAccessDocument, {})).data!.myAccess.permissions).toEqual(
      expect.arrayContaining(['affiliates:manage', 'affiliates:read', 'billing:manage']),
    );
    expect((await owner.gql(PermissionCatalogDocument, {})).data!.permissionCatalog).toContain('affiliates:read');
    const role = await owner.gql(CreateRoleDocument, {
      input: { name: 'Partner manager', permissions: ['affiliates:read'] },
    });
    expect(role.errors).toBeUndefined();
    const member = await owner.invite();
    expect((await member.gql(MyAccessDocument, {})).data!.myAccess.permissions).not.toContain('affiliates:read');
    // Another tenant without the module cannot use its permissions.
    const other = await t.signUp('No Modules');
    expect(
      codes(await other.gql(CreateRoleDocument, { input: { name: 'x', permissions: ['affiliates:read'] } })),
    ).toEqual(['INVALID_ROLE']);

    expect((await uninstall(owner, 'affiliates')).data).toEqual({ uninstallModule: true });
    expect((await owner.gql(MyAccessDocument, {})).data!.myAccess.permissions).not.toContain('affiliates:read');
    expect(codes(await uninstall(owner, 'affiliates'))).toEqual(['MODULE_NOT_INSTALLED']);
    expect(codes(await member.gql(InstallModuleDocument, { id: 'chat' }))).toEqual(['FORBIDDEN']);
  });

  it('publishes manifests only with known dependencies, no cycles and a compatible platform', async () => {
    const publish = (input: ReturnType<typeof manifest>) => root.gql(PublishModuleDocument, { input });
    expect(codes(await owner.gql(PublishModuleDocument, { input: manifest('reports') }))).toEqual(['FORBIDDEN']);
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
