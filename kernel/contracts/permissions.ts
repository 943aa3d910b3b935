/**
 * The permission catalogue (`resource:action`): every permission the platform itself checks. `@Authorized` and
 * `hasPermission` take these names, so a misspelt or renamed one fails to compile. Installed modules add their own
 * permission strings at run time (checked by shape when published); those are not in this catalogue.
 */

/** What a tenant's roles grant: owners and admins hold all of them, members and users a part, custom roles a choice. */
export const PERMISSION_CATALOG = [
  'account:read',
  'account:manage',
  'apikeys:manage',
  'users:read',
  'users:manage',
  'sso:manage',
  'tenants:read',
  'tenants:manage',
  'products:read',
  'products:manage',
  'billing:read',
  'billing:manage',
  'ledger:read',
  'ledger:write',
  'rooms:read',
  'rooms:create',
  'messages:read',
  'messages:send',
  'messages:moderate',
  'webhooks:manage',
  'documents:read',
  'documents:write',
  'audit:read',
  'roles:manage',
] as const;

/** The prefix of platform rights: no tenant role, API key or module holds one. */
export const PLATFORM_PERMISSION_PREFIX = 'platform:';

/** Rights of a platform Super Admin, on top of their rights in whichever tenant they are signed in to. */
export const PLATFORM_PERMISSIONS = [
  'platform:audit',
  'platform:admins',
  'platform:tenants',
  'platform:modules',
  'platform:billing',
] as const satisfies readonly `${typeof PLATFORM_PERMISSION_PREFIX}${string}`[];

export type TenantPermission = (typeof PERMISSION_CATALOG)[number];
export type PlatformPermission = (typeof PLATFORM_PERMISSIONS)[number];
/** A permission of the catalogue. */
export type Permission = TenantPermission | PlatformPermission;

/**
 * The type of a permission argument: a name written in code (a literal type) must be a catalogued `Permission`;
 * a value known only at run time (`string`: a stored role's, an API key's, a module's) is accepted as it is.
 */
export type PermissionName<P extends string> = string extends P ? string : Permission;

/** Whether a permission string names a platform right (`platform:…`), catalogued or not. */
export function isPlatformPermission(permission: string): boolean {
  return permission.startsWith(PLATFORM_PERMISSION_PREFIX);
}
