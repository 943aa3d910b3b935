import {
  AddGroupMemberDocument,
  AppendLedgerEntryDocument,
  AssignGroupRoleDocument,
  AssignRoleDocument,
  AuditLogDocument,
  CreateGroupDocument,
  CreateProductDocument,
  CreateRoleDocument,
  GroupsDocument,
  LedgerEntriesDocument,
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
import { codes, gql } from './support/gql';
import { joinByInvitation, signUp, type Account } from './support/fixtures';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
let owner: Account;
beforeAll(async () => {
  t = await startTestPlatform();
  owner = await signUp(t.gatewayUrl, 'Roles');
});
afterAll(async () => {
  await t?.stop();
});

/** A member of the owner's tenant, through a real invitation. */
const member = (role = 'member') => joinByInvitation(t.gatewayUrl, t.config, owner, role);

const makeProduct = (token: string) =>
  gql(t.gatewayUrl, CreateProductDocument, { input: { name: 'p', priceCents: 1, currency: 'USD' } }, { token });

describe('roles, groups and permissions', () => {
  it('lists system roles and the permission catalog', async () => {
    const res = await gql(t.gatewayUrl, RolesDocument, {}, { token: owner.token });
    expect(res.data!.roles.filter((r) => r.system).map((r) => r.name)).toEqual(['owner', 'admin', 'member', 'user']);
    expect(res.data!.permissionCatalog).toEqual(
      expect.arrayContaining(['products:manage', 'roles:manage', 'audit:read']),
    );
  });

  it('applies a custom role on the very next request, with the same access token', async () => {
    const m = await member();
    expect(codes(await makeProduct(m.token))).toEqual(['FORBIDDEN']);
    const role = await gql(
      t.gatewayUrl,
      CreateRoleDocument,
      { input: { name: 'Catalogue editor', permissions: ['products:manage', 'products:read'] } },
      { token: owner.token },
    );
    expect(role.errors).toBeUndefined();
    await gql(
      t.gatewayUrl,
      AssignRoleDocument,
      { input: { userId: m.userId, roleId: role.data!.createRole.id } },
      { token: owner.token },
    );
    expect((await makeProduct(m.token)).errors).toBeUndefined();
    // And a system role change too: demoted admin loses what only admins had.
    const a = await member('admin');
    expect((await gql(t.gatewayUrl, AuditLogDocument, {}, { token: a.token })).errors).toBeUndefined();
    await gql(
      t.gatewayUrl,
      AssignRoleDocument,
      { input: { userId: a.userId, roleId: 'member' } },
      { token: owner.token },
    );
    expect(codes(await gql(t.gatewayUrl, AuditLogDocument, {}, { token: a.token }))).toEqual(['FORBIDDEN']);
  });

  it('gives members of a child group the roles of its parent group', async () => {
    const m = await member();
    const accountants = await gql(
      t.gatewayUrl,
      CreateRoleDocument,
      { input: { name: 'Accountant', permissions: ['ledger:read', 'ledger:write'] } },
      { token: owner.token },
    );
    const finance = await gql(
      t.gatewayUrl,
      CreateGroupDocument,
      { input: { name: 'Finance' } },
      { token: owner.token },
    );
    const payroll = await gql(
      t.gatewayUrl,
      CreateGroupDocument,
      { input: { name: 'Payroll', parentId: finance.data!.createGroup.id } },
      { token: owner.token },
    );
    await gql(
      t.gatewayUrl,
      AssignGroupRoleDocument,
      { input: { groupId: finance.data!.createGroup.id, roleId: accountants.data!.createRole.id } },
      { token: owner.token },
    );
    const append = () =>
      gql(t.gatewayUrl, AppendLedgerEntryDocument, { input: { account: 'cash', amountCents: 5 } }, { token: m.token });
    expect(codes(await append())).toEqual(['FORBIDDEN']);
    await gql(
      t.gatewayUrl,
      AddGroupMemberDocument,
      { input: { groupId: payroll.data!.createGroup.id, userId: m.userId } },
      { token: owner.token },
    );
    expect((await append()).errors).toBeUndefined();
    expect((await gql(t.gatewayUrl, LedgerEntriesDocument, { first: 5 }, { token: m.token })).errors).toBeUndefined();
    const groups = await gql(t.gatewayUrl, GroupsDocument, {}, { token: owner.token });
    expect(groups.data!.groups.find((g) => g.name === 'Payroll')).toMatchObject({
      parentId: finance.data!.createGroup.id,
      memberIds: [m.userId],
    });
  });

  it('refuses escalation: granting what you lack, giving ownership as a non-owner, unknown permissions', async () => {
    const a = await member('admin');
    const delegate = await gql(
      t.gatewayUrl,
      CreateRoleDocument,
      { input: { name: 'Role admin', permissions: ['roles:manage', 'products:read', 'users:read'] } },
      { token: owner.token },
    );
    const m = await member();
    await gql(
      t.gatewayUrl,
      AssignRoleDocument,
      { input: { userId: m.userId, roleId: delegate.data!.createRole.id } },
      { token: owner.token },
    );
    const grab = await gql(
      t.gatewayUrl,
      CreateRoleDocument,
      { input: { name: 'Grab', permissions: ['products:manage'] } },
      { token: m.token },
    );
    expect(codes(grab)).toEqual(['PERMISSION_ESCALATION']);
    const crown = await gql(
      t.gatewayUrl,
      AssignRoleDocument,
      { input: { userId: a.userId, roleId: 'owner' } },
      { token: a.token },
    );
    expect(codes(crown)).toEqual(['PERMISSION_ESCALATION']);
    const unknown = await gql(
      t.gatewayUrl,
      CreateRoleDocument,
      { input: { name: 'Odd', permissions: ['rockets:launch'] } },
      { token: owner.token },
    );
    expect(codes(unknown)).toEqual(['INVALID_ROLE']);
    const lastOwner = await gql(
      t.gatewayUrl,
      AssignRoleDocument,
      { input: { userId: owner.userId, roleId: 'member' } },
      { token: owner.token },
    );
    expect(codes(lastOwner)).toEqual(['LAST_OWNER']);
    const refusals = await gql(
      t.gatewayUrl,
      AuditLogDocument,
      { filter: { result: 'FAILURE' } },
      { token: owner.token },
    );
    expect(refusals.data!.auditLog.edges.map((e) => e.node.action)).toEqual(
      expect.arrayContaining(['role_create', 'role_assign']),
    );
  });

  it('lists the members with their effective roles, and removes one (their access ends at once)', async () => {
    const m = await member();
    const a = await member('admin');
    const users = await gql(t.gatewayUrl, TenantUsersDocument, {}, { token: owner.token });
    const row = users.data!.tenantUsers.find((u) => u.user.id === m.userId)!;
    expect(row).toMatchObject({ role: 'member', roles: ['member'] });
    expect(row.permissions).toContain('messages:send');
    expect(codes(await gql(t.gatewayUrl, RemoveUserDocument, { userId: owner.userId }, { token: a.token }))).toEqual([
      'PERMISSION_ESCALATION',
    ]);
    expect((await gql(t.gatewayUrl, RemoveUserDocument, { userId: m.userId }, { token: a.token })).data).toEqual({
      removeUser: true,
    });
    expect([401, 403]).toContain((await gql(t.gatewayUrl, ProductsDocument, {}, { token: m.token })).status);
    const after = await gql(t.gatewayUrl, CurrentTenantDocument, {}, { token: owner.token });
    expect(after.data!.currentTenant.members.map((x) => x.user.id)).not.toContain(m.userId);
  });

  it("cannot touch another tenant's roles or people", async () => {
    const other = await signUp(t.gatewayUrl, 'Other roles');
    const theirs = await gql(
      t.gatewayUrl,
      CreateRoleDocument,
      { input: { name: 'Theirs', permissions: ['products:read'] } },
      { token: other.token },
    );
    const m = await member();
    const res = await gql(
      t.gatewayUrl,
      AssignRoleDocument,
      { input: { userId: m.userId, roleId: theirs.data!.createRole.id } },
      { token: owner.token },
    );
    expect(codes(res)).toEqual(['UNKNOWN_ROLE']);
    const outsider = await gql(
      t.gatewayUrl,
      AssignRoleDocument,
      { input: { userId: other.userId, roleId: 'admin' } },
      { token: owner.token },
    );
    expect(codes(outsider)).toEqual(['NOT_A_MEMBER']);
  });

  it('edits and deletes roles; whoever holds one gets the change on the next request', async () => {
    const m = await member();
    const role = await gql(
      t.gatewayUrl,
      CreateRoleDocument,
      { input: { name: 'Books', permissions: ['ledger:read'] } },
      { token: owner.token },
    );
    const roleId = role.data!.createRole.id;
    await gql(t.gatewayUrl, AssignRoleDocument, { input: { userId: m.userId, roleId } }, { token: owner.token });
    const append = () =>
      gql(t.gatewayUrl, AppendLedgerEntryDocument, { input: { account: 'cash', amountCents: 1 } }, { token: m.token });
    expect(codes(await append())).toEqual(['FORBIDDEN']);
    const edited = await gql(
      t.gatewayUrl,
      UpdateRoleDocument,
      { input: { id: roleId, name: 'Bookkeeper', permissions: ['ledger:read', 'ledger:write'] } },
      { token: owner.token },
    );
    expect(edited.data!.updateRole).toEqual({
      id: roleId,
      name: 'Bookkeeper',
      permissions: ['ledger:read', 'ledger:write'],
    });
    expect((await append()).errors).toBeUndefined();
    expect(
      (await gql(t.gatewayUrl, UnassignRoleDocument, { input: { userId: m.userId, roleId } }, { token: owner.token }))
        .data,
    ).toEqual({ unassignRole: true });
    expect(codes(await append())).toEqual(['FORBIDDEN']);
    expect(
      codes(
        await gql(t.gatewayUrl, UnassignRoleDocument, { input: { userId: m.userId, roleId } }, { token: owner.token }),
      ),
    ).toEqual(['UNKNOWN_ROLE']);
    await gql(t.gatewayUrl, AssignRoleDocument, { input: { userId: m.userId, roleId } }, { token: owner.token });
    expect((await append()).errors).toBeUndefined();
    expect((await gql(t.gatewayUrl, DeleteRoleDocument, { id: roleId }, { token: owner.token })).data).toEqual({
      deleteRole: true,
    });
    expect(codes(await append())).toEqual(['FORBIDDEN']);
    const roles = await gql(t.gatewayUrl, RolesDocument, {}, { token: owner.token });
    expect(roles.data!.roles.map((r) => r.id)).not.toContain(roleId);
  });

  it('refuses role edits beyond your rights, and edits of system or unknown roles, with an audit entry', async () => {
    const delegate = await gql(
      t.gatewayUrl,
      CreateRoleDocument,
      { input: { name: 'Delegate', permissions: ['roles:manage', 'users:read', 'products:read'] } },
      { token: owner.token },
    );
    const m = await member();
    await gql(
      t.gatewayUrl,
      AssignRoleDocument,
      { input: { userId: m.userId, roleId: delegate.data!.createRole.id } },
      { token: owner.token },
    );
    const big = await gql(
      t.gatewayUrl,
      CreateRoleDocument,
      { input: { name: 'Big', permissions: ['ledger:write'] } },
      { token: owner.token },
    );
    const bigId = big.data!.createRole.id;
    // Widening the delegate's own role, editing or deleting a role with rights the caller lacks: refused.
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          UpdateRoleDocument,
          { input: { id: delegate.data!.createRole.id, permissions: ['roles:manage', 'products:manage'] } },
          { token: m.token },
        ),
      ),
    ).toEqual(['PERMISSION_ESCALATION']);
    expect(
      codes(await gql(t.gatewayUrl, UpdateRoleDocument, { input: { id: bigId, name: 'Small' } }, { token: m.token })),
    ).toEqual(['PERMISSION_ESCALATION']);
    expect(codes(await gql(t.gatewayUrl, DeleteRoleDocument, { id: bigId }, { token: m.token }))).toEqual([
      'PERMISSION_ESCALATION',
    ]);
    expect(
      codes(await gql(t.gatewayUrl, UpdateRoleDocument, { input: { id: 'admin', name: 'x' } }, { token: owner.token })),
    ).toEqual(['UNKNOWN_ROLE']);
    expect(
      codes(
        await gql(t.gatewayUrl, UpdateRoleDocument, { input: { id: bigId, name: 'Owner' } }, { token: owner.token }),
      ),
    ).toEqual(['INVALID_ROLE']);
    const roles = await gql(t.gatewayUrl, RolesDocument, {}, { token: owner.token });
    expect(roles.data!.roles.find((r) => r.id === bigId)).toMatchObject({ name: 'Big', permissions: ['ledger:write'] });
    const refusals = await gql(
      t.gatewayUrl,
      AuditLogDocument,
      { filter: { result: 'FAILURE' } },
      { token: owner.token },
    );
    expect(refusals.data!.auditLog.edges.map((e) => e.node.action)).toEqual(
      expect.arrayContaining(['role_update', 'role_delete']),
    );
  });

  it('moves, renames and deletes groups, never into a cycle; removes members and group roles', async () => {
    const m = await member();
    const writer = await gql(
      t.gatewayUrl,
      CreateRoleDocument,
      { input: { name: 'Writer', permissions: ['ledger:write'] } },
      { token: owner.token },
    );
    const create = (name: string, parentId?: string) =>
      gql(t.gatewayUrl, CreateGroupDocument, { input: { name, parentId } }, { token: owner.token }).then(
        (r) => r.data!.createGroup.id,
      );
    const top = await create('Top');
    const mid = await create('Mid', top);
    const leaf = await create('Leaf', mid);
    const other = await create('Other');
    await gql(
      t.gatewayUrl,
      AssignGroupRoleDocument,
      { input: { groupId: other, roleId: writer.data!.createRole.id } },
      { token: owner.token },
    );
    await gql(
      t.gatewayUrl,
      AddGroupMemberDocument,
      { input: { groupId: leaf, userId: m.userId } },
      { token: owner.token },
    );
    const append = () =>
      gql(t.gatewayUrl, AppendLedgerEntryDocument, { input: { account: 'cash', amountCents: 1 } }, { token: m.token });
    expect(codes(await append())).toEqual(['FORBIDDEN']);

    for (const parentId of [top, leaf]) {
      expect(
        codes(await gql(t.gatewayUrl, UpdateGroupDocument, { input: { id: top, parentId } }, { token: owner.token })),
      ).toEqual(['INVALID_GROUP']);
    }
    // Moving Top under Other: Leaf's member now inherits Other's role.
    const moved = await gql(
      t.gatewayUrl,
      UpdateGroupDocument,
      { input: { id: top, name: 'Top level', parentId: other } },
      { token: owner.token },
    );
    expect(moved.data!.updateGroup).toEqual({ id: top, name: 'Top level', parentId: other });
    expect((await append()).errors).toBeUndefined();
    expect(
      (await gql(t.gatewayUrl, UpdateGroupDocument, { input: { id: top, parentId: null } }, { token: owner.token }))
        .data!.updateGroup.parentId,
    ).toBeNull();
    expect(codes(await append())).toEqual(['FORBIDDEN']);

    await gql(t.gatewayUrl, UpdateGroupDocument, { input: { id: top, parentId: other } }, { token: owner.token });
    expect(
      (
        await gql(
          t.gatewayUrl,
          UnassignGroupRoleDocument,
          { input: { groupId: other, roleId: writer.data!.createRole.id } },
          { token: owner.token },
        )
      ).errors,
    ).toBeUndefined();
    expect(codes(await append())).toEqual(['FORBIDDEN']);
    await gql(
      t.gatewayUrl,
      AssignGroupRoleDocument,
      { input: { groupId: other, roleId: writer.data!.createRole.id } },
      { token: owner.token },
    );
    expect((await append()).errors).toBeUndefined();
    expect(
      (
        await gql(
          t.gatewayUrl,
          RemoveGroupMemberDocument,
          { input: { groupId: leaf, userId: m.userId } },
          { token: owner.token },
        )
      ).errors,
    ).toBeUndefined();
    expect(codes(await append())).toEqual(['FORBIDDEN']);
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          RemoveGroupMemberDocument,
          { input: { groupId: leaf, userId: m.userId } },
          { token: owner.token },
        ),
      ),
    ).toEqual(['NOT_A_MEMBER']);

    expect((await gql(t.gatewayUrl, DeleteGroupDocument, { id: mid }, { token: owner.token })).data).toEqual({
      deleteGroup: true,
    });
    const groups = (await gql(t.gatewayUrl, GroupsDocument, {}, { token: owner.token })).data!.groups;
    expect(groups.find((g) => g.id === mid)).toBeUndefined();
    expect(groups.find((g) => g.id === leaf)!.parentId).toBeNull();
  });

  it("cannot edit, move or delete another tenant's roles and groups", async () => {
    const other = await signUp(t.gatewayUrl, 'Other groups');
    const theirRole = (
      await gql(
        t.gatewayUrl,
        CreateRoleDocument,
        { input: { name: 'Theirs', permissions: ['products:read'] } },
        { token: other.token },
      )
    ).data!.createRole.id;
    const theirGroup = (
      await gql(t.gatewayUrl, CreateGroupDocument, { input: { name: 'Theirs' } }, { token: other.token })
    ).data!.createGroup.id;
    const mine = (await gql(t.gatewayUrl, CreateGroupDocument, { input: { name: 'Mine' } }, { token: owner.token }))
      .data!.createGroup.id;
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          UpdateRoleDocument,
          { input: { id: theirRole, name: 'Hijacked' } },
          { token: owner.token },
        ),
      ),
    ).toEqual(['UNKNOWN_ROLE']);
    expect(codes(await gql(t.gatewayUrl, DeleteRoleDocument, { id: theirRole }, { token: owner.token }))).toEqual([
      'UNKNOWN_ROLE',
    ]);
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          UpdateGroupDocument,
          { input: { id: theirGroup, name: 'Hijacked' } },
          { token: owner.token },
        ),
      ),
    ).toEqual(['INVALID_GROUP']);
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          UpdateGroupDocument,
          { input: { id: mine, parentId: theirGroup } },
          { token: owner.token },
        ),
      ),
    ).toEqual(['INVALID_GROUP']);
    expect(codes(await gql(t.gatewayUrl, DeleteGroupDocument, { id: theirGroup }, { token: owner.token }))).toEqual([
      'INVALID_GROUP',
    ]);
    const theirs = await gql(t.gatewayUrl, RolesDocument, {}, { token: other.token });
    expect(theirs.data!.roles.find((r) => r.id === theirRole)!.name).toBe('Theirs');
    expect(
      (await gql(t.gatewayUrl, GroupsDocument, {}, { token: other.token })).data!.groups.map((g) => g.name),
    ).toEqual(['Theirs']);
    const failures = await gql(
      t.gatewayUrl,
      AuditLogDocument,
      { filter: { result: 'FAILURE' } },
      { token: owner.token },
    );
    expect(failures.data!.auditLog.edges.map((e) => e.node.action)).toEqual(
      expect.arrayContaining(['role_update', 'role_delete', 'group_update', 'group_delete']),
    );
  });
});
