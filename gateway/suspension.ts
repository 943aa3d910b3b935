import { AppError } from '../kernel/errors';
import type { TenantStatus } from './tenant-status';

/**
 * What members of a suspended tenant (or one whose trial ended) may still do: see their account,
 * sessions and the tenant's status, sign out, and move to another tenant (billing operations join this
 * list when they exist). A deleted tenant's owner may also restore it.
 */
const ALLOWED_WHILE_SUSPENDED = new Set([
  'currentTenant',
  'myTenants',
  'me',
  'myAccess',
  'sessions',
  'switchTenant',
  'logout',
  'logoutEverywhere',
  'revokeSession',
  '__typename',
]);

const ALLOWED_WHILE_DELETED = new Set([...ALLOWED_WHILE_SUSPENDED, 'restoreTenant']);

const REFUSALS: Record<
  Exclude<TenantStatus, 'active' | 'unknown'>,
  { code: string; message: string; allowed: Set<string> }
> = {
  suspended: {
    code: 'TENANT_SUSPENDED',
    message: 'This tenant is suspended; only its status, your account and billing are available',
    allowed: ALLOWED_WHILE_SUSPENDED,
  },
  trial_expired: {
    code: 'TRIAL_EXPIRED',
    message: "This tenant's trial has ended; only its status, your account and billing are available",
    allowed: ALLOWED_WHILE_SUSPENDED,
  },
  deleted: {
    code: 'TENANT_DELETED',
    message: 'This tenant is deleted; its owner can still restore it',
    allowed: ALLOWED_WHILE_DELETED,
  },
};

/**
 * The refusal (HTTP 403) of doing `fields` for a suspended, expired or deleted tenant, unless every one
 * of them is still allowed; null for an active tenant.
 */
export function statusRefusal(status: TenantStatus, fields: readonly string[]): AppError | null {
  if (status === 'active' || status === 'unknown') return null;
  const refusal = REFUSALS[status];
  return fields.every((f) => refusal.allowed.has(f)) ? null : new AppError(refusal.code, refusal.message, {}, 403);
}
