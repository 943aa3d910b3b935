import { Arg, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { RbacService } from './rbac.service';
import {
  AssignRoleInput,
  CreateGroupInput,
  CreateRoleInput,
  GroupMemberInput,
  GroupRoleInput,
  GroupView,
  RoleView,
  UpdateGroupInput,
  UpdateRoleInput,
} from './rbac.types';

@Resolver()
export class RbacResolver {
  private readonly rbac: RbacService;
  constructor(deps: SubgraphDeps) {
    this.rbac = new RbacService(deps);
  }

  @Authorized('users:read')
  @Query(() => [String], {
    description:
      "Every permission string a role can contain: the platform's and those of the tenant's installed modules",
  })
  permissionCatalog(): Promise<string[]> {
    return this.rbac.catalog(currentContext());
  }

  @Authorized('users:read')
  @Query(() => [RoleView])
  roles(): Promise<RoleView[]> {
    return this.rbac.roles(currentContext());
  }

  @Authorized('roles:manage')
  @Mutation(() => RoleView)
  createRole(@Arg('input', () => CreateRoleInput) input: CreateRoleInput): Promise<RoleView> {
    return this.rbac.createRole(currentContext(), input);
  }

  @Authorized('roles:manage')
  @Mutation(() => Boolean, { description: 'Takes effect on the next request' })
  assignRole(@Arg('input', () => AssignRoleInput) input: AssignRoleInput): Promise<boolean> {
    return this.rbac.assignRole(currentContext(), input);
  }

  @Authorized('users:read')
  @Query(() => [GroupView])
  groups(): Promise<GroupView[]> {
    return this.rbac.groups(currentContext());
  }

  @Authorized('roles:manage')
  @Mutation(() => GroupView)
  createGroup(@Arg('input', () => CreateGroupInput) input: CreateGroupInput): Promise<GroupView> {
    return this.rbac.createGroup(currentContext(), input);
  }

  @Authorized('roles:manage')
  @Mutation(() => Boolean)
  addGroupMember(@Arg('input', () => GroupMemberInput) input: GroupMemberInput): Promise<boolean> {
    return this.rbac.addGroupMember(currentContext(), input.groupId, input.userId);
  }

  @Authorized('roles:manage')
  @Mutation(() => Boolean)
  assignGroupRole(@Arg('input', () => GroupRoleInput) input: GroupRoleInput): Promise<boolean> {
    return this.rbac.assignGroupRole(currentContext(), input.groupId, input.roleId);
  }

  @Authorized('roles:manage')
  @Mutation(() => RoleView, { description: 'Renames a custom role or replaces its permissions' })
  updateRole(@Arg('input', () => UpdateRoleInput) input: UpdateRoleInput): Promise<RoleView> {
    return this.rbac.updateRole(currentContext(), input);
  }

  @Authorized('roles:manage')
  @Mutation(() => Boolean, { description: 'Deletes a custom role; whoever held it loses it on their next request' })
  deleteRole(@Arg('id', () => ID) id: string): Promise<boolean> {
    return this.rbac.deleteRole(currentContext(), id);
  }

  @Authorized('roles:manage')
  @Mutation(() => Boolean, { description: 'Takes a custom role away from a member' })
  unassignRole(@Arg('input', () => AssignRoleInput) input: AssignRoleInput): Promise<boolean> {
    return this.rbac.unassignRole(currentContext(), input);
  }

  @Authorized('roles:manage')
  @Mutation(() => GroupView, { description: 'Renames or moves a group (never under itself or its subgroups)' })
  updateGroup(@Arg('input', () => UpdateGroupInput) input: UpdateGroupInput): Promise<GroupView> {
    return this.rbac.updateGroup(currentContext(), input);
  }

  @Authorized('roles:manage')
  @Mutation(() => Boolean, { description: 'Deletes a group; its subgroups become top-level groups' })
  deleteGroup(@Arg('id', () => ID) id: string): Promise<boolean> {
    return this.rbac.deleteGroup(currentContext(), id);
  }

  @Authorized('roles:manage')
  @Mutation(() => Boolean)
  removeGroupMember(@Arg('input', () => GroupMemberInput) input: GroupMemberInput): Promise<boolean> {
    return this.rbac.removeGroupMember(currentContext(), input.groupId, input.userId);
  }

  @Authorized('roles:manage')
  @Mutation(() => Boolean)
  unassignGroupRole(@Arg('input', () => GroupRoleInput) input: GroupRoleInput): Promise<boolean> {
    return this.rbac.unassignGroupRole(currentContext(), input.groupId, input.roleId);
  }
}
