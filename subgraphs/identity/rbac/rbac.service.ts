import { randomUUID } from 'node:crypto';
import { announce } from '../../../kernel/pubsub';
import type { EntityManager } from 'typeorm';
import { hasPermission } from '../../../kernel/auth';
import type { RequestContext } from '../../../kernel/context';
import { recordEvent } from '../../../kernel/events';
import { withTenant } from '../../../kernel/db/tenant-scope';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { PERMISSIONS_CHANGED_TOPIC } from '../../../kernel/contracts/topics';
import { audit, auditSeparately } from '../audit/audit.service';
import { AuditResult } from '../audit/audit-event.entity';
import { IdentityErrorCode, identityError } from '../identity.errors';
import { IdentityMembership } from '../users/membership.entity';
import { PERMISSION_CATALOG } from '../../../kernel/contracts/permissions';
import { ROLE_PERMISSIONS, SYSTEM_ROLES, isSystemRole, permissionsFor } from './permissions';
import { CustomRole, Group } from './rbac.entities';
import type {
  AssignRoleInput,
  CreateGroupInput,
  CreateRoleInput,
  GroupView,
  RoleView,
  UpdateGroupInput,
  UpdateRoleInput,
} from './rbac.types';
import { isUuid, returningRows } from '../../../kernel/db/values';
import { AppError } from '../../../kernel/errors';
import { TEXT_LIMITS, cleanName, lengthRange, stripBidiControls } from '../../../kernel/text';
import { applySecurityPolicy, type RestrictedAccess } from '../policy/security-policy.service';
import { withPlatformRights } from '../platform/platform-admin.service';
import { modulePermissions } from './module-permissions';
import { SUPER_ADMIN_ROLE } from '../platform/platform-admin.types';
import { IMPERSONATION_ROLE } from '../sessions/session.service';

export interface EffectiveAccess {
  roles: string[];
  permissions: string[];
}

/**
 * What a member of a tenant may do: the permissions of their system role, of custom roles given to
 * them, and of the roles of their groups and every ancestor of those groups.
 */
export async function effectiveAccess(
  em: EntityManager,
  tenantId: string,
  userId: string,
): Promise<EffectiveAccess | null> {
  const membership = await em.findOneBy(IdentityMembership, { tenantId, userId });
  if (!membership) return null;
  const rows: { name: string; permissions: string[] }[] = await em.query(
    `WITH RECURSIVE my_groups AS (
         SELECT g.id, g.parent_id FROM identity.groups g
           JOIN identity.group_members m ON m.tenant_id = g.tenant_id AND m.group_id = g.id
          WHERE g.tenant_id = $1 AND m.user_id = $2
       UNION
         SELECT p.id, p.parent_id FROM identity.groups p JOIN my_groups c ON p.id = c.parent_id WHERE p.tenant_id = $1)
     SELECT r.name, r.permissions FROM identity.roles r
      WHERE r.tenant_id = $1 AND (
        r.id IN (SELECT role_id FROM identity.user_roles WHERE tenant_id = $1 AND user_id = $2)
        OR r.id IN (SELECT role_id FROM identity.group_roles WHERE tenant_id = $1 AND group_id IN (SELECT id FROM my_groups)))`,
    [tenantId, userId],
  );
  // Installed modules add permissions: owners and admins hold them; custom roles count them only while installed.
  const fromModules = await modulePermissions(em, tenantId);
  const grantable = new Set<string>([...PERMISSION_CATALOG, ...fromModules]);
  const permissions = new Set(permissionsFor([membership.role]));
  if (membership.role === 'owner' || membership.role === 'admin') for (const p of fromModules) permissions.add(p);
  for (const r of rows) for (const p of r.permissions) if (grantable.has(p)) permissions.add(p);
  return { roles: [membership.role, ...rows.map((r) => r.name)], permissions: [...permissions].sort() };
}

/** Every permission a role of this tenant can hold: the platform's and its installed modules'. */
export async function permissionCatalogOf(em: EntityManager, tenantId: string): Promise<string[]> {
  return [...new Set([...PERMISSION_CATALOG, ...(await modulePermissions(em, tenantId))])].sort();
}

/**
 * For the gateway: current roles and permissions of a member after the tenant's rules, plus platform
 * rights; for a Super Admin's impersonation session, admin rights while they still are a Super Admin.
 * Null when neither.
 */
export async function accessOf(
  deps: SubgraphDeps,
  who: { tenantId: string; userId: string; sessionId?: string | null; authMethod?: string },
): Promise<RestrictedAccess | null> {
  if (!isUuid(who?.tenantId) || !isUuid(who?.userId)) return null;
  const scope: RequestContext = {
    requestId: 'access',
    tenantId: who.tenantId,
    userId: who.userId,
    sessionId: null,
    roles: [],
    permissions: [],
    authMethod: 'system',
  };
  const configured = deps.config.auth.SUPER_ADMIN_EMAILS;
  return withTenant(deps.ds, scope, async (em) => {
    const access = await effectiveAccess(em, who.tenantId, who.userId);
    if (access) {
      const restricted = await applySecurityPolicy(em, who.tenantId, who.userId, access);
      // Platform rights come with the account's own credentials, never through a tenant's identity provider.
      return who.authMethod === 'sso' ? restricted : withPlatformRights(em, who.userId, restricted, configured);
    }
    if (!isUuid(who.sessionId)) return null;
    const [session]: { id: string }[] = await em.query(
      `SELECT id FROM identity.sessions WHERE tenant_id = $1 AND id = $2 AND user_id = $3 AND impersonator_id = user_id
          AND revoked_at IS NULL AND expires_at > now()`,
      [who.tenantId, who.sessionId, who.userId],
    );
    if (!session) return null;
    const base = { roles: [IMPERSONATION_ROLE], permissions: permissionsFor([IMPERSONATION_ROLE]), restrictions: [] };
    const rights = await withPlatformRights(em, who.userId, base, configured);
    return rights.roles.includes(SUPER_ADMIN_ROLE) ? rights : null;
  });
}

export class RbacService {
  constructor(private readonly deps: SubgraphDeps) {}

  private changed(tenantId: string): Promise<void> {
    return announce(this.deps.pubsub, PERMISSIONS_CHANGED_TOPIC, [{ tenantId }]);
  }

  catalog(ctx: RequestContext): Promise<string[]> {
    return withTenant(this.deps.ds, ctx, (em, tenantId) => permissionCatalogOf(em, tenantId));
  }

  async roles(ctx: RequestContext): Promise<RoleView[]> {
    const custom = await withTenant(this.deps.ds, ctx, (em, tenantId) =>
      em.find(CustomRole, { where: { tenantId }, order: { name: 'ASC' } }),
    );
    return [
      ...SYSTEM_ROLES.map((r) => ({
        id: r,
        name: r,
        description: `System role: ${r}`,
        permissions: [...ROLE_PERMISSIONS[r]],
        system: true,
      })),
      ...custom.map(view),
    ];
  }

  async createRole(ctx: RequestContext, input: CreateRoleInput): Promise<RoleView> {
    const name = checkedRoleName(input.name);
    const description = checkedRoleDescription(input.description) ?? '';
    const catalog = await withTenant(this.deps.ds, ctx, (em, tenantId) => permissionCatalogOf(em, tenantId));
    const permissions = checkedPermissions(input.permissions ?? [], catalog);
    const beyond = permissions.filter((p) => !hasPermission(ctx, p));
    if (beyond.length) {
      await this.refuse(
        ctx,
        new Refusal(
          'role_create',
          `role:${name}`,
          { beyond },
          `You cannot grant what you do not have: ${beyond.join(', ')}`,
        ),
      );
    }
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const id = randomUUID();
      try {
        await em.insert(CustomRole, { tenantId, id, name, description, permissions });
      } catch (err) {
        if ((err as { code?: string }).code === '23505')
          throw identityError(IdentityErrorCode.INVALID_ROLE, 'A role with this name exists');
        throw err;
      }
      await audit(em, ctx, tenantId, {
        action: 'role_create',
        result: AuditResult.SUCCESS,
        target: `role:${id}`,
        details: { name, permissions },
      });
      return view(await em.findOneByOrFail(CustomRole, { tenantId, id }));
    });
  }

  /** System role: replaces the member's role. Custom role: adds it. Nobody grants beyond their own rights. */
  async assignRole(ctx: RequestContext, input: AssignRoleInput): Promise<boolean> {
    await this.guarded(
      ctx,
      (em, tenantId) => this.applyRole(em, ctx, tenantId, input),
      'role_assign',
      `user:${input.userId}`,
    );
    await this.changed(ctx.tenantId!);
    return true;
  }

  private async applyRole(
    em: EntityManager,
    ctx: RequestContext,
    tenantId: string,
    input: AssignRoleInput,
  ): Promise<void> {
    {
      const member = isUuid(input.userId)
        ? await em.findOneBy(IdentityMembership, { tenantId, userId: input.userId })
        : null;
      if (!member) throw identityError(IdentityErrorCode.NOT_A_MEMBER, 'That account is not a member of this tenant');
      if (isSystemRole(input.roleId)) {
        if ((input.roleId === 'owner' || member.role === 'owner') && !ctx.roles.includes('owner')) {
          throw new Refusal(
            'role_assign',
            `user:${member.userId}`,
            { role: input.roleId },
            'Only an owner can give or take ownership',
          );
        }
        // Neither grant a role beyond your own rights, nor change someone whose rights exceed yours.
        assertWithin(ctx, permissionsFor([input.roleId]), 'role_assign', `user:${member.userId}`);
        assertWithin(
          ctx,
          (await effectiveAccess(em, tenantId, member.userId))?.permissions ?? [],
          'role_assign',
          `user:${member.userId}`,
        );
        if (member.role === 'owner' && input.roleId !== 'owner') {
          const owners = await em.countBy(IdentityMembership, { tenantId, role: 'owner' });
          if (owners <= 1) throw identityError(IdentityErrorCode.LAST_OWNER);
        }
        await em.update(IdentityMembership, { tenantId, userId: member.userId }, { role: input.roleId });
        await recordEvent(em, 'identity', {
          type: 'identity.member_role_changed',
          tenantId,
          payload: { tenantId, userId: member.userId, role: input.roleId },
        });
      } else {
        const role = await this.roleIn(em, tenantId, input.roleId);
        assertWithin(ctx, role.permissions, 'role_assign', `user:${member.userId}`);
        // Assigned by hand: no longer the provider's to take back, even if a connection gave it first.
        await em.query(
          `INSERT INTO identity.user_roles (tenant_id, user_id, role_id) VALUES ($1, $2, $3)
           ON CONFLICT (tenant_id, user_id, role_id) DO UPDATE SET sso_connection_id = NULL`,
          [tenantId, member.userId, role.id],
        );
      }
      await audit(em, ctx, tenantId, {
        action: 'role_assign',
        result: AuditResult.SUCCESS,
        target: `user:${member.userId}`,
        details: { role: input.roleId },
      });
    }
  }

  async groups(ctx: RequestContext): Promise<GroupView[]> {
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const groups = await em.find(Group, { where: { tenantId }, order: { name: 'ASC' } });
      const roles: { group_id: string; id: string; name: string; description: string; permissions: string[] }[] =
        await em.query(
          `SELECT gr.group_id, r.id, r.name, r.description, r.permissions FROM identity.group_roles gr
           JOIN identity.roles r ON r.tenant_id = gr.tenant_id AND r.id = gr.role_id WHERE gr.tenant_id = $1`,
          [tenantId],
        );
      const members: { group_id: string; user_id: string }[] = await em.query(
        `SELECT group_id, user_id FROM identity.group_members WHERE tenant_id = $1`,
        [tenantId],
      );
      return groups.map((g) => ({
        id: g.id,
        name: g.name,
        parentId: g.parentId,
        roles: roles
          .filter((r) => r.group_id === g.id)
          .map((r) => ({
            id: r.id,
            name: r.name,
            description: r.description,
            permissions: r.permissions,
            system: false,
          })),
        memberIds: members.filter((m) => m.group_id === g.id).map((m) => m.user_id),
      }));
    });
  }

  async createGroup(ctx: RequestContext, input: CreateGroupInput): Promise<GroupView> {
    const name = checkedGroupName(input.name);
    const id = randomUUID();
    await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      if (
        input.parentId &&
        !(isUuid(input.parentId) && (await em.findOneBy(Group, { tenantId, id: input.parentId })))
      ) {
        throw identityError(IdentityErrorCode.INVALID_GROUP, 'Parent group not found');
      }
      await em.insert(Group, { tenantId, id, name, parentId: input.parentId ?? null });
      await audit(em, ctx, tenantId, {
        action: 'group_create',
        result: AuditResult.SUCCESS,
        target: `group:${id}`,
        details: { name, parentId: input.parentId ?? null },
      });
    });
    return (await this.groups(ctx)).find((g) => g.id === id)!;
  }

  async addGroupMember(ctx: RequestContext, groupId: string, userId: string): Promise<boolean> {
    await this.guarded(
      ctx,
      async (em, tenantId) => {
        await this.groupIn(em, tenantId, groupId);
        assertWithin(ctx, await groupPermissions(em, tenantId, groupId), 'group_member_add', `group:${groupId}`);
        if (!(isUuid(userId) && (await em.findOneBy(IdentityMembership, { tenantId, userId })))) {
          throw identityError(IdentityErrorCode.NOT_A_MEMBER, 'That account is not a member of this tenant');
        }
        await em.query(
          `INSERT INTO identity.group_members (tenant_id, group_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
          [tenantId, groupId, userId],
        );
        await audit(em, ctx, tenantId, {
          action: 'group_member_add',
          result: AuditResult.SUCCESS,
          target: `user:${userId}`,
          details: { groupId },
        });
      },
      'group_member_add',
      `group:${groupId}`,
    );
    await this.changed(ctx.tenantId!);
    return true;
  }

  async assignGroupRole(ctx: RequestContext, groupId: string, roleId: string): Promise<boolean> {
    await this.guarded(
      ctx,
      async (em, tenantId) => {
        await this.groupIn(em, tenantId, groupId);
        const role = await this.roleIn(em, tenantId, roleId);
        assertWithin(ctx, role.permissions, 'group_role_assign', `group:${groupId}`);
        await em.query(
          `INSERT INTO identity.group_roles (tenant_id, group_id, role_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
          [tenantId, groupId, roleId],
        );
        await audit(em, ctx, tenantId, {
          action: 'group_role_assign',
          result: AuditResult.SUCCESS,
          target: `group:${groupId}`,
          details: { roleId },
        });
      },
      'group_role_assign',
      `group:${groupId}`,
    );
    await this.changed(ctx.tenantId!);
    return true;
  }

  /** Renames a role or replaces its permissions; nobody edits a role beyond their own rights, before or after. */
  async updateRole(ctx: RequestContext, input: UpdateRoleInput): Promise<RoleView> {
    const target = `role:${input.id}`;
    await this.guarded(
      ctx,
      async (em, tenantId) => {
        const role = await this.roleIn(em, tenantId, input.id);
        const name = input.name === undefined || input.name === null ? role.name : checkedRoleName(input.name);
        const description = checkedRoleDescription(input.description) ?? role.description;
        const permissions = input.permissions
          ? checkedPermissions(input.permissions, await permissionCatalogOf(em, tenantId))
          : role.permissions;
        assertWithin(ctx, [...role.permissions, ...permissions], 'role_update', target);
        try {
          await em.update(CustomRole, { tenantId, id: role.id }, { name, description, permissions });
        } catch (err) {
          if ((err as { code?: string }).code === '23505')
            throw identityError(IdentityErrorCode.INVALID_ROLE, 'A role with this name exists');
          throw err;
        }
        await audit(em, ctx, tenantId, {
          action: 'role_update',
          result: AuditResult.SUCCESS,
          target,
          details: { before: view(role), after: { name, permissions } },
        });
      },
      'role_update',
      target,
    );
    await this.changed(ctx.tenantId!);
    return (await this.roles(ctx)).find((r) => r.id === input.id)!;
  }

  /** Deletes a role: whoever held it (directly or through a group) loses it on their next request. */
  async deleteRole(ctx: RequestContext, id: string): Promise<boolean> {
    await this.guarded(
      ctx,
      async (em, tenantId) => {
        const role = await this.roleIn(em, tenantId, id);
        assertWithin(ctx, role.permissions, 'role_delete', `role:${id}`);
        await em.delete(CustomRole, { tenantId, id: role.id });
        await audit(em, ctx, tenantId, {
          action: 'role_delete',
          result: AuditResult.SUCCESS,
          target: `role:${id}`,
          details: { name: role.name, permissions: role.permissions },
        });
      },
      'role_delete',
      `role:${id}`,
    );
    await this.changed(ctx.tenantId!);
    return true;
  }

  /** Takes a custom role away from a member (system roles are replaced with assignRole instead). */
  async unassignRole(ctx: RequestContext, input: AssignRoleInput): Promise<boolean> {
    const target = `user:${input.userId}`;
    await this.guarded(
      ctx,
      async (em, tenantId) => {
        if (isSystemRole(input.roleId))
          throw identityError(
            IdentityErrorCode.INVALID_ROLE,
            'A system role is replaced with assignRole, not taken away',
          );
        const role = await this.roleIn(em, tenantId, input.roleId);
        assertWithin(ctx, role.permissions, 'role_unassign', target);
        assertWithin(
          ctx,
          isUuid(input.userId) ? ((await effectiveAccess(em, tenantId, input.userId))?.permissions ?? []) : [],
          'role_unassign',
          target,
        );
        const removed = await em.query(
          `DELETE FROM identity.user_roles WHERE tenant_id = $1 AND user_id = $2 AND role_id = $3 RETURNING role_id`,
          [tenantId, isUuid(input.userId) ? input.userId : null, role.id],
        );
        if (returningRows(removed).length === 0)
          throw identityError(IdentityErrorCode.UNKNOWN_ROLE, 'That member does not have this role');
        await audit(em, ctx, tenantId, {
          action: 'role_unassign',
          result: AuditResult.SUCCESS,
          target,
          details: { role: role.id },
        });
      },
      'role_unassign',
      target,
    );
    await this.changed(ctx.tenantId!);
    return true;
  }

  /** Renames or moves a group; a group can never become its own ancestor. */
  async updateGroup(ctx: RequestContext, input: UpdateGroupInput): Promise<GroupView> {
    const target = `group:${input.id}`;
    await this.guarded(
      ctx,
      async (em, tenantId) => {
        const group = await this.groupIn(em, tenantId, input.id);
        const name = input.name === undefined || input.name === null ? group.name : checkedGroupName(input.name);
        const parentId = input.parentId === undefined ? group.parentId : input.parentId;
        if (parentId !== group.parentId) {
          // Members would gain the new ancestors' roles, and lose the old ones': both must be within the caller's rights.
          assertWithin(ctx, await groupPermissions(em, tenantId, group.id), 'group_update', target);
          if (parentId !== null) {
            await this.groupIn(em, tenantId, parentId);
            const [cycle]: { found: boolean }[] = await em.query(
              `WITH RECURSIVE chain AS (
                   SELECT id, parent_id FROM identity.groups WHERE tenant_id = $1 AND id = $2
                 UNION
                   SELECT g.id, g.parent_id FROM identity.groups g JOIN chain c ON g.id = c.parent_id WHERE g.tenant_id = $1)
               SELECT EXISTS (SELECT 1 FROM chain WHERE id = $3) AS found`,
              [tenantId, parentId, group.id],
            );
            if (cycle.found)
              throw identityError(
                IdentityErrorCode.INVALID_GROUP,
                'A group cannot be placed under itself or one of its own subgroups',
              );
            assertWithin(ctx, await groupPermissions(em, tenantId, parentId), 'group_update', target);
          }
        }
        await em.update(Group, { tenantId, id: group.id }, { name, parentId });
        await audit(em, ctx, tenantId, {
          action: 'group_update',
          result: AuditResult.SUCCESS,
          target,
          details: { before: { name: group.name, parentId: group.parentId }, after: { name, parentId } },
        });
      },
      'group_update',
      target,
    );
    await this.changed(ctx.tenantId!);
    return (await this.groups(ctx)).find((g) => g.id === input.id)!;
  }

  /** Deletes a group; its subgroups become top-level groups (and stop inheriting through it). */
  async deleteGroup(ctx: RequestContext, id: string): Promise<boolean> {
    await this.guarded(
      ctx,
      async (em, tenantId) => {
        const group = await this.groupIn(em, tenantId, id);
        assertWithin(ctx, await groupPermissions(em, tenantId, group.id), 'group_delete', `group:${id}`);
        await em.delete(Group, { tenantId, id: group.id });
        await audit(em, ctx, tenantId, {
          action: 'group_delete',
          result: AuditResult.SUCCESS,
          target: `group:${id}`,
          details: { name: group.name },
        });
      },
      'group_delete',
      `group:${id}`,
    );
    await this.changed(ctx.tenantId!);
    return true;
  }

  async removeGroupMember(ctx: RequestContext, groupId: string, userId: string): Promise<boolean> {
    await this.guarded(
      ctx,
      async (em, tenantId) => {
        await this.groupIn(em, tenantId, groupId);
        assertWithin(ctx, await groupPermissions(em, tenantId, groupId), 'group_member_remove', `group:${groupId}`);
        const removed = await em.query(
          `DELETE FROM identity.group_members WHERE tenant_id = $1 AND group_id = $2 AND user_id = $3 RETURNING user_id`,
          [tenantId, groupId, isUuid(userId) ? userId : null],
        );
        if (returningRows(removed).length === 0)
          throw identityError(IdentityErrorCode.NOT_A_MEMBER, 'That account is not in this group');
        await audit(em, ctx, tenantId, {
          action: 'group_member_remove',
          result: AuditResult.SUCCESS,
          target: `user:${userId}`,
          details: { groupId },
        });
      },
      'group_member_remove',
      `group:${groupId}`,
    );
    await this.changed(ctx.tenantId!);
    return true;
  }

  async unassignGroupRole(ctx: RequestContext, groupId: string, roleId: string): Promise<boolean> {
    await this.guarded(
      ctx,
      async (em, tenantId) => {
        await this.groupIn(em, tenantId, groupId);
        const role = await this.roleIn(em, tenantId, roleId);
        assertWithin(ctx, role.permissions, 'group_role_unassign', `group:${groupId}`);
        const removed = await em.query(
          `DELETE FROM identity.group_roles WHERE tenant_id = $1 AND group_id = $2 AND role_id = $3 RETURNING role_id`,
          [tenantId, groupId, role.id],
        );
        if (returningRows(removed).length === 0)
          throw identityError(IdentityErrorCode.UNKNOWN_ROLE, 'The group does not have this role');
        await audit(em, ctx, tenantId, {
          action: 'group_role_unassign',
          result: AuditResult.SUCCESS,
          target: `group:${groupId}`,
          details: { roleId },
        });
      },
      'group_role_unassign',
      `group:${groupId}`,
    );
    await this.changed(ctx.tenantId!);
    return true;
  }

  private async roleIn(em: EntityManager, tenantId: string, roleId: string): Promise<CustomRole> {
    const role = isUuid(roleId) ? await em.findOneBy(CustomRole, { tenantId, id: roleId }) : null;
    if (!role) throw identityError(IdentityErrorCode.UNKNOWN_ROLE);
    return role;
  }

  private async groupIn(em: EntityManager, tenantId: string, groupId: string): Promise<Group> {
    const group = isUuid(groupId) ? await em.findOneBy(Group, { tenantId, id: groupId }) : null;
    if (!group) throw identityError(IdentityErrorCode.INVALID_GROUP, 'Group not found');
    return group;
  }

  /**
   * Runs a change. A Refusal thrown inside rolls it back, is audited on its own and surfaces as
   * PERMISSION_ESCALATION; any other coded refusal (unknown role, another tenant's group, a cycle) is
   * rolled back and audited as a failure of `action` too.
   */
  private async guarded(
    ctx: RequestContext,
    work: (em: EntityManager, tenantId: string) => Promise<void>,
    action?: string,
    target?: string,
  ): Promise<void> {
    try {
      await withTenant(this.deps.ds, ctx, work);
    } catch (err) {
      if (err instanceof Refusal) await this.refuse(ctx, err);
      const code = err instanceof AppError ? err.extensions.code : undefined;
      if (action && typeof code === 'string') {
        await auditSeparately(this.deps.ds, ctx, ctx.tenantId!, {
          action,
          result: AuditResult.FAILURE,
          target: target ?? null,
          details: { code },
        });
      }
      throw err;
    }
  }

  private async refuse(ctx: RequestContext, refusal: Refusal): Promise<never> {
    await auditSeparately(this.deps.ds, ctx, ctx.tenantId!, {
      action: refusal.action,
      result: AuditResult.FAILURE,
      target: refusal.target,
      details: refusal.details,
    });
    throw identityError(IdentityErrorCode.PERMISSION_ESCALATION, refusal.message);
  }
}

function checkedRoleName(raw: string | null | undefined): string {
  const name = cleanName(raw ?? '');
  if (name.length < 1 || name.length > TEXT_LIMITS.roleName || isSystemRole(name.toLowerCase())) {
    throw identityError(
      IdentityErrorCode.INVALID_ROLE,
      `Role name must be ${lengthRange(TEXT_LIMITS.roleName)} and not a system role`,
    );
  }
  return name;
}

/** A role's description as stored: trimmed, at most TEXT_LIMITS.roleDescription characters; undefined when not given. */
function checkedRoleDescription(raw: string | null | undefined): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  const description = stripBidiControls(raw).trim();
  if (description.length > TEXT_LIMITS.roleDescription)
    throw identityError(
      IdentityErrorCode.INVALID_ROLE,
      `Role description must be ${lengthRange(TEXT_LIMITS.roleDescription, 0)}`,
    );
  return description;
}

function checkedGroupName(raw: string | null | undefined): string {
  const name = cleanName(raw ?? '');
  if (name.length < 1 || name.length > TEXT_LIMITS.groupName)
    throw identityError(IdentityErrorCode.INVALID_GROUP, `Group name must be ${lengthRange(TEXT_LIMITS.groupName)}`);
  return name;
}

/** Known permission strings only (from the tenant's catalog), sorted and without repeats. */
function checkedPermissions(raw: readonly string[], catalog: readonly string[]): string[] {
  const permissions = [...new Set(raw)].sort();
  const unknown = permissions.filter((p) => !catalog.includes(p));
  if (unknown.length) throw identityError(IdentityErrorCode.INVALID_ROLE, `Unknown permissions: ${unknown.join(', ')}`);
  return permissions;
}

/** Throws a Refusal unless every permission is one the caller holds. */
function assertWithin(ctx: RequestContext, permissions: readonly string[], action: string, target: string): void {
  const beyond = permissions.filter((p) => !hasPermission(ctx, p));
  if (beyond.length)
    throw new Refusal(
      action,
      target,
      { beyond },
      `You cannot grant or change what you do not have: ${beyond.join(', ')}`,
    );
}

/** Permissions a group gives its members: its roles and those of its ancestors. */
async function groupPermissions(em: EntityManager, tenantId: string, groupId: string): Promise<string[]> {
  const rows: { permissions: string[] }[] = await em.query(
    `WITH RECURSIVE chain AS (
         SELECT id, parent_id FROM identity.groups WHERE tenant_id = $1 AND id = $2
       UNION
         SELECT g.id, g.parent_id FROM identity.groups g JOIN chain c ON g.id = c.parent_id WHERE g.tenant_id = $1)
     SELECT r.permissions FROM identity.group_roles gr JOIN identity.roles r ON r.tenant_id = gr.tenant_id AND r.id = gr.role_id
      WHERE gr.tenant_id = $1 AND gr.group_id IN (SELECT id FROM chain)`,
    [tenantId, groupId],
  );
  return [...new Set(rows.flatMap((r) => r.permissions))];
}

/** A refused permission change (escalation): rolled back, then audited in its own transaction. */
class Refusal extends Error {
  constructor(
    readonly action: string,
    readonly target: string,
    readonly details: Record<string, unknown>,
    message: string,
  ) {
    super(message);
  }
}

function view(r: CustomRole): RoleView {
  return { id: r.id, name: r.name, description: r.description, permissions: r.permissions, system: false };
}
