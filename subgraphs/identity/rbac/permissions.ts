import { PERMISSION_CATALOG, type TenantPermission } from '../../../kernel/contracts/permissions';

/** System roles and the permissions of the catalogue (kernel/contracts/permissions.ts) they grant within a tenant. */
export type SystemRole = 'owner' | 'admin' | 'member' | 'user';

const MEMBER: TenantPermission[] = [
  'account:read',
  'account:manage',
  'apikeys:manage',
  'users:read',
  'tenants:read',
  'products:read',
  'ledger:read',
  'rooms:read',
  'rooms:create',
  'messages:read',
  'messages:send',
  'documents:read',
  'documents:write',
];

/** An end user of the tenant's product: their own account, and chat. */
const USER: TenantPermission[] = ['account:read', 'account:manage', 'rooms:read', 'messages:read', 'messages:send'];

export const ROLE_PERMISSIONS: Record<SystemRole, readonly TenantPermission[]> = {
  owner: PERMISSION_CATALOG,
  admin: PERMISSION_CATALOG,
  member: MEMBER,
  user: USER,
};

export const SYSTEM_ROLES: readonly SystemRole[] = ['owner', 'admin', 'member', 'user'];

export function isSystemRole(role: string): role is SystemRole {
  return (SYSTEM_ROLES as readonly string[]).includes(role);
}

export function permissionsFor(roles: string[]): string[] {
  const out = new Set<string>();
  for (const role of roles) for (const p of ROLE_PERMISSIONS[role as SystemRole] ?? []) out.add(p);
  return [...out].sort();
}
