import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';

@ObjectType('Role', {
  description: 'A set of permissions: system roles (owner, admin, member) or defined by the tenant',
})
export class RoleView {
  @Field(() => ID, { description: 'owner, admin, member, or the id of a custom role' })
  id: string;

  @Field(() => String)
  name: string;

  @Field(() => String)
  description: string;

  @Field(() => [String])
  permissions: string[];

  @Field(() => Boolean)
  system: boolean;
}

@ObjectType('Group', { description: 'Members of a group get its roles and those of every ancestor group' })
export class GroupView {
  @Field(() => ID)
  id: string;

  @Field(() => String)
  name: string;

  @Field(() => ID, { nullable: true })
  parentId: string | null;

  @Field(() => [RoleView])
  roles: RoleView[];

  @Field(() => [ID])
  memberIds: string[];
}

@InputType()
export class CreateRoleInput {
  @Field(() => String, {
    description: `${lengthRange(TEXT_LIMITS.roleName)}, not a system role's; control and bidirectional formatting characters are removed`,
  })
  name: string;

  @Field(() => [String])
  permissions: string[];

  @Field(() => String, { defaultValue: '', description: lengthRange(TEXT_LIMITS.roleDescription, 0) })
  description: string;
}

@InputType()
export class AssignRoleInput {
  @Field(() => ID)
  userId: string;

  @Field(() => ID, { description: 'owner, admin or member (replaces the system role), or a custom role id (added)' })
  roleId: string;
}

@InputType()
export class CreateGroupInput {
  @Field(() => String, {
    description: `${lengthRange(TEXT_LIMITS.groupName)}; control and bidirectional formatting characters are removed`,
  })
  name: string;

  @Field(() => ID, { nullable: true })
  parentId?: string | null;
}

@InputType()
export class GroupMemberInput {
  @Field(() => ID)
  groupId: string;

  @Field(() => ID)
  userId: string;
}

@InputType()
export class GroupRoleInput {
  @Field(() => ID)
  groupId: string;

  @Field(() => ID)
  roleId: string;
}

@InputType()
export class UpdateRoleInput {
  @Field(() => ID)
  id: string;

  @Field(() => String, { nullable: true, description: `${lengthRange(TEXT_LIMITS.roleName)}, as in createRole` })
  name?: string | null;

  @Field(() => String, { nullable: true, description: lengthRange(TEXT_LIMITS.roleDescription, 0) })
  description?: string | null;

  @Field(() => [String], {
    nullable: true,
    description: 'Replaces the permissions; members holding the role get the change on their next request',
  })
  permissions?: string[] | null;
}

@InputType()
export class UpdateGroupInput {
  @Field(() => ID)
  id: string;

  @Field(() => String, { nullable: true, description: `${lengthRange(TEXT_LIMITS.groupName)}, as in createGroup` })
  name?: string | null;

  @Field(() => ID, { nullable: true, description: 'New parent; null makes it a top-level group; omitted leaves it' })
  parentId?: string | null;
}
