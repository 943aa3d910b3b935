import { AppError } from '../kernel/errors';
import type { GatewayPolicy } from '../kernel/contracts/gateway-policy';
import type { FieldPolicies, OperationType } from './policies';
import type { TenantStatus } from './tenant-status';

type RefusedStatus = Exclude<TenantStatus, 'active' | 'unknown'>;

/**
 * What members of a suspended tenant (or one whose trial ended) may still do: the root fields their subgraph
 * declared `open-while-suspended` (their account, sessions, the tenant's status, signing out, moving to another
 * tenant). A deleted tenant's members may also call those declared `open-while-deleted` (its owner restores it).
 */
const OPEN: Record<RefusedStatus, readonly GatewayPolicy[]> = {
  suspended: ['open-while-suspended'],
  trial_expired: ['open-while-suspended'],
  deleted: ['open-while-suspended', 'open-while-deleted'],
};

const REFUSALS: Record<RefusedStatus, { code: string; message: string }> = {
  suspended: {
    code: 'TENANT_SUSPENDED',
    message: 'This tenant is suspended; only its status, your account and billing are available',
  },
  trial_expired: {
    code: 'TRIAL_EXPIRED',
    message: "This tenant's trial has ended; only its status, your account and billing are available",
  },
  deleted: {
    code: 'TENANT_DELETED',
    message: 'This tenant is deleted; its owner can still restore it',
  },
};

/**
 * The refusal (HTTP 403) of doing `fields` (root fields of an `operation`) for a suspended, expired or deleted
 * tenant, unless every one of them is still allowed; null for an active tenant.
 */
export function statusRefusal(
  status: TenantStatus,
  operation: OperationType,
  fields: readonly string[],
  policies: FieldPolicies,
): AppError | null {
  if (status === 'active' || status === 'unknown') return null;
  const open = (field: string) =>
    field === '__typename' || OPEN[status].some((p) => policies.rootHas(p, operation, field));
  if (fields.every(open)) return null;
  const refusal = REFUSALS[status];
  return new AppError(refusal.code, refusal.message, {}, 403);
}
