import { randomUUID } from 'node:crypto';
import {
  AddGroupMemberDocument,
  AssignGroupRoleDocument,
  AssignRoleDocument,
  AuditLogDocument,
  CreateGroupDocument,
  CreateLedgerAccountDocument,
  CreateProductDocument,
  CreateRoleDocument,
  GroupsDocument,
  LedgerAccountsDocument,
  RolesDocument,
  TenantUsersDocument,
  RemoveUserDocument,
  ProductsDocument,
  CurrentTenantDocument,
  DeleteGroupDocument,
  DeleteRoleDocument,
  RemoveGroupMemberDocument,
  UnassignGroupRoleDocument,
  UnassignRoleDocument,
  UpdateGroupDocument,
  UpdateRoleDocument,
} from './generated/graphql';
import { codes } from './support/gql';
import type { User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
let owner: User;
beforeAll(async () => {
  t = await startTestPlatform();
  owner = await t.signUp('Roles');
});
afterAll(async () => {
  await t?.stop();
});

/** A member of the owner's tenant, through a real invitation. */
const member = (role = 'member') => owner.invite(role);

const makeProduct = (token: string) =>
  t.as(token).gql(CreateProductDocument, { input: { name: 'p', priceCents: 1, currency: 'USD' } });

/** A ledger write (`ledger:write`): opens an account under a code of its own (codes are unique per currency). */
const openAccount = (user: User) =>
  user.gql(CreateLedgerAccountDocument, { input: { code: `cash:${randomUUID().slice(0, 8)}`, currency: 'EUR' } });

describe('roles, groups and permissions', () => {
  it('lists system roles and the permission catalog', async () => {
    const res = await owner.gql(RolesDocument, {});
    expect(res.data!.roles.filter((r) => r.system).map((r) => r.name)).toEqual(['owner', 'admin', 'member', 'user']);
    expect(res.data!.permissionCatalog).toEqual(
      expect.arrayContaining(['products:manage', 'roles:manage', 'audit:read']),
    );
  });

  it('applies a custom role on the very next request, with the same access token', async () => {
    const m = await member();
    expect(codes(await makeProduct(m.token))).toEqual(['FORBIDDEN']);
    const role = await owner.gql(CreateRoleDocument, {
      input: { name: 'Catalogue editor', permissions: ['products:manage', 'products:read'] },
    });
    expect(role.errors).toBeUndefined();
    await owner.gql(AssignRoleDocument, { input: { userId: m.userId, roleId: role.data!.createRole.id } });
    expect((await makeProduct(m.token)).errors).toBeUndefined();
    // And a system role change too: demoted admin loses what only admins had.
    const a = await member('admin');
    expect((await a.gql(AuditLogDocument, {})).errors).toBeUndefined();
    await owner.gql(AssignRoleDocument, { input: { userId: a.userId, roleId: 'member' } });
    expect(codes(await a.gql(AuditLogDocument, {}))).toEqual(['FORBIDDEN']);
  });

  it('gives members of a child group the roles of its parent group', async () => {
    const m = await member();
    const accountants = await owner.gql(CreateRoleDocument, {
      input: { name: 'Accountant', permissions: ['ledger:read', 'ledger:write'] },
    });
    const finance = await owner.gql(CreateGroupDocument, { input: { name: 'Finance' } });
    const payroll = await owner.gql(CreateGroupDocument, {
      input: { name: 'Payroll', parentId: finance.data!.createGroup.id },
    });
    await owner.gql(AssignGroupRoleDocument, {
      input: { groupId: finance.data!.createGroup.id, roleId: accountants.data!.createRole.id },
    });
    const write = () => openAccount(m);
    expect(codes(await write())).toEqual(['FORBIDDEN']);
    await owner.gql(AddGroupMemberDocument, { input: { groupId: payroll.data!.createGroup.id, userId: m.userId } });
    expect((await write()).errors).toBeUndefined();
    expect((await m.gql(LedgerAccountsDocument, { first: 5 })).errors).toBeUndefined();
    const groups = await owner.gql(GroupsDocument, {});
    expect(groups.data!.groups.find((g) => g.name === 'Payroll')).toMatchObject({
      parentId: finance.data!.createGroup.id,
      memberIds: [m.userId],
    });
  });

  it('refuses escalation: granting what you lack, giving ownership as a non-owner, unknown permissions', async () => {
    const a = await member('admin');
    const delegate = await owner.gql(CreateRoleDocument, {
      input: { name: 'Role admin', permissions: ['roles:manage', 'products:read', 'users:read'] },
    });
    const m = await member();
    await owner.gql(AssignRoleDocument, { input: { userId: m.userId, roleId: delegate.data!.createRole.id } });
    const grab = await m.gql(CreateRoleDocument, { input: { name: 'Grab', permissions: ['products:manage'] } });
    expect(codes(grab)).toEqual(['PERMISSION_ESCALATION']);
    const crown = await a.gql(AssignRoleDocument, { input: { userId: a.userId, roleId: 'owner' } });
    expect(codes(crown)).toEqual(['PERMISSION_ESCALATION']);
    const unknown = await owner.gql(CreateRoleDocument, { input: { name: 'Odd', permissions: ['rockets:launch'] } });
    expect(codes(unknown)).toEqual(['INVALID_ROLE']);
    const lastOwner = await owner.gql(AssignRoleDocument, { input: { userId: owner.userId, roleId: 'member' } });
    expect(codes(lastOwner)).toEqual(['LAST_OWNER']);
    const refusals = await owner.gql(AuditLogDocument, { filter: { result: 'FAILURE' } });
    expect(refusals.data!.auditLog.edges.map((e) => e.node.action)).toEqual(
      expect.arrayContaining(['role_create', 'role_assign']),
    );
  });

  it('lists the members with their effective roles, and removes one (their access ends at once)', async () => {
    const m = await member();
    const a = await member('admin');
    const users = await owner.gql(TenantUsersDocument, {});
    const row = users.data!.tenantUsers.find((u) => u.user.id === m.userId)!;
    expect(row).toMatchObject({ role: 'member', roles: ['member'] });
    expect(row.permissions).toContain('messages:send');
    expect(codes(await a.gql(RemoveUserDocument, { userId: owner.userId }))).toEqual(['PERMISSION_ESCALATION']);
    expect((await a.gql(RemoveUserDocument, { userId: m.userId })).data).toEqual({
      removeUser: true,
    });
    expect([401, 403]).toContain((await m.gql(ProductsDocument, {})).status);
    const after = await owner.gql(CurrentTenantDocument, {});
    expect(after.data!.currentTenant.members.map((x) => x.user.id)).not.toContain(m.userId);
  });

  it("cannot touch another tenant's roles or people", async () => {
    const other = await t.signUp('Other roles');
    const theirs = await other.gql(CreateRoleDocument, { input: { name: 'Theirs', permissions: ['products:read'] } });
    const m = await member();
    const res = await owner.gql(AssignRoleDocument, {
      input: { userId: m.userId, roleId: theirs.data!.createRole.id },
    });
    expect(codes(res)).toEqual(['UNKNOWN_ROLE']);
    const outsider = await owner.gql(AssignRoleDocument, { input: { userId: other.userId, roleId: 'admin' } });
    expect(codes(outsider)).toEqual(['NOT_A_MEMBER']);
  });

  it('edits and deletes roles; whoever holds one gets the change on the next request', async () => {
    const m = await member();
    const role = await owner.gql(CreateRoleDocument, { input: { name: 'Books', permissions: ['ledger:read'] } });
    const roleId = role.data!.createRole.id;
    await owner.gql(AssignRoleDocument, { input: { userId: m.userId, roleId } });
    const write = () => openAccount(m);
    expect(codes(await write())).toEqual(['FORBIDDEN']);
    const edited = await owner.gql(UpdateRoleDocument, {
      input: { id: roleId, name: 'Bookkeeper', permissions: ['ledger:read', 'ledger:write'] },
    });
    expect(edited.data!.updateRole).toEqual({
      id: roleId,
      name: 'Bookkeeper',
      permissions: ['ledger:read', 'ledger:write'],
    });
    expect((await write()).errors).toBeUndefined();
    expect((await owner.gql(UnassignRoleDocument, { input: { userId: m.userId, roleId } })).data).toEqual({
      unassignRole: true,
    });
    expect(codes(await write())).toEqual(['FORBIDDEN']);
    expect(codes(await owner.gql(UnassignRoleDocument, { input: { userId: m.userId, roleId } }))).toEqual([
      'UNKNOWN_ROLE',
    ]);
    await owner.gql(AssignRoleDocument, { input: { userId: m.userId, roleId } });
    expect((await write()).errors).toBeUndefined();
    expect((await owner.gql(DeleteRoleDocument, { id: roleId })).data).toEqual({
      deleteRole: true,
    });
    expect(codes(await write())).toEqual(['FORBIDDEN']);
    const roles = await owner.gql(RolesDocument, {});
    expect(roles.data!.roles.map((r) => r.id)).not.toContain(roleId);
  });

  it('refuses role edits beyond your rights, and edits of system or unknown roles, with an audit entry', async () => {
    const delegate = await owner.gql(CreateRoleDocument, {
      input: { name: 'Delegate', permissions: ['roles:manage', 'users:read', 'products:read'] },
    });
    const m = await member();
    await owner.gql(AssignRoleDocument, { input: { userId: m.userId, roleId: delegate.data!.createRole.id } });
    const big = await owner.gql(CreateRoleDocument, { input: { name: 'Big', permissions: ['ledger:write'] } });
    const bigId = big.data!.createRole.id;
    // Widening the delegate's own role, editing or deleting a role with rights the caller lacks: refused.
    expect(
      codes(
        await m.gql(UpdateRoleDocument, {
          input: { id: delegate.data!.createRole.id, permissions: ['roles:manage', 'products:manage'] },
        }),
      ),
    ).toEqual(['PERMISSION_ESCALATION']);
    expect(codes(await m.gql(UpdateRoleDocument, { input: { id: bigId, name: 'Small' } }))).toEqual([
      'PERMISSION_ESCALATION',
    ]);
    expect(codes(await m.gql(DeleteRoleDocument, { id: bigId }))).toEqual(['PERMISSION_ESCALATION']);
    expect(codes(await owner.gql(UpdateRoleDocument, { input: { id: 'admin', name: 'x' } }))).toEqual(['UNKNOWN_ROLE']);
    expect(codes(await owner.gql(UpdateRoleDocument, { input: { id: bigId, name: 'Owner' } }))).toEqual([
      'INVALID_ROLE',
    ]);
    const roles = await owner.gql(RolesDocument, {});
    expect(roles.data!.roles.find((r) => r.id === bigId)).toMatchObject({ name: 'Big', permissions: ['ledger:write'] });
    const refusals = await owner.gql(AuditLogDocument, { filter: { result: 'FAILURE' } });
    expect(refusals.data!.auditLog.edges.map((e) => e.node.action)).toEqual(
      expect.arrayContaining(['role_update', 'role_delete']),
    );
  });

  it('moves, renames and deletes groups, never into a cycle; removes members and group roles', async () => {
    const m = await member();
    const writer = await owner.gql(CreateRoleDocument, { input: { name: 'Writer', permissions: ['ledger:write'] } });
    const create = (name: string, parentId?: string) =>
      owner.gql(CreateGroupDocument, { input: { name, parentId } }).then((r) => r.data!.createGroup.id);
    const top = await create('Top');
    const mid = await create('Mid', top);
    const leaf = await create('Leaf', mid);
    const other = await create('Other');
    await owner.gql(AssignGroupRoleDocument, { input: { groupId: other, roleId: writer.data!.createRole.id } });
    await owner.gql(AddGroupMemberDocument, { input: { groupId: leaf, userId: m.userId } });
    const write = () => openAccount(m);
    expect(codes(await write())).toEqual(['FORBIDDEN']);

    for (const parentId of [top, leaf]) {
      expect(codes(await owner.gql(UpdateGroupDocument, { input: { id: top, parentId } }))).toEqual(['INVALID_GROUP']);
    }
    // Moving Top under Other: Leaf's member now inherits Other's role.
    const moved = await owner.gql(UpdateGroupDocument, { input: { id: top, name: 'Top level', parentId: other } });
    expect(moved.data!.updateGroup).toEqual({ id: top, name: 'Top level', parentId: other });
    expect((await write()).errors).toBeUndefined();
    expect(
      (await owner.gql(UpdateGroupDocument, { input: { id: top, parentId: null } })).data!.updateGroup.parentId,
    ).toBeNull();
    expect(codes(await write())).toEqual(['FORBIDDEN']);

    await owner.gql(UpdateGroupDocument, { input: { id: top, parentId: other } });
    expect(
      (await owner.gql(UnassignGroupRoleDocument, { input: { groupId: other, roleId: writer.data!.createRole.id } }))
        .errors,
    ).toBeUndefined();
    expect(codes(await write())).toEqual(['FORBIDDEN']);
    await owner.gql(AssignGroupRoleDocument, { input: { groupId: other, roleId: writer.data!.createRole.id } });
    expect((await write()).errors).toBeUndefined();
    expect(
      (await owner.gql(RemoveGroupMemberDocument, { input: { groupId: leaf, userId: m.userId } })).errors,
    ).toBeUndefined();
    expect(codes(await write())).toEqual(['FORBIDDEN']);
    expect(codes(await owner.gql(RemoveGroupMemberDocument, { input: { groupId: leaf, userId: m.userId } }))).toEqual([
      'NOT_A_MEMBER',
    ]);

    expect((await owner.gql(DeleteGroupDocument, { id: mid })).data).toEqual({
      deleteGroup: true,
    });
    const groups = (await owner.gql(GroupsDocument, {})).data!.groups;
    expect(groups.find((g) => g.id === mid)).toBeUndefined();
    expect(groups.find((g) => g.id === leaf)!.parentId).toBeNull();
  });

  it("cannot edit, move or delete another tenant's roles and groups", async () => {
    const other = await t.signUp('Other groups');
    const theirRole = (
      await other.gql(CreateRoleDocument, { input: { name: 'Theirs', permissions: ['products:read'] } })
    ).data!.createRole.id;
    const theirGroup = (await other.gql(CreateGroupDocument, { input: { name: 'Theirs' } })).data!.createGroup.id;
    const mine = (await owner.gql(CreateGroupDocument, { input: { name: 'Mine' } })).data!.createGroup.id;
    expect(codes(await owner.gql(UpdateRoleDocument, { input: { id: theirRole, name: 'Hijacked' } }))).toEqual([
      'UNKNOWN_ROLE',
    ]);
    expect(codes(await owner.gql(DeleteRoleDocument, { id: theirRole }))).toEqual(['UNKNOWN_ROLE']);
    expect(codes(await owner.gql(UpdateGroupDocument, { input: { id: theirGroup, name: 'Hijacked' } }))).toEqual([
      'INVALID_GROUP',
    ]);
    expect(codes(await owner.gql(UpdateGroupDocument, { input: { id: mine, parentId: theirGroup } }))).toEqual([
      'INVALID_GROUP',
    ]);
    expect(codes(await owner.gql(DeleteGroupDocument, { id: theirGroup }))).toEqual(['INVALID_GROUP']);
    const theirs = await other.gql(RolesDocument, {});
    expect(theirs.data!.roles.find((r) => r.id === theirRole)!.name).toBe('Theirs');
    expect((await other.gql(GroupsDocument, {})).data!.groups.map((g) => g.name)).toEqual(['Theirs']);
    const failures = await owner.gql(AuditLogDocument, { filter: { result: 'FAILURE' } });
    expect(failures.data!.auditLog.edges.map((e) => e.node.action)).toEqual(
      expect.arrayContaining(['role_update', 'role_delete', 'group_update', 'group_delete']),
    );
  });
});
