import { quotaExceeded, type MeteredMetric } from '../kernel/admission';
import type { Admission } from '../kernel/context';
import { AppError, KernelErrorCode } from '../kernel/errors';
import type { FieldPolicies, OperationType } from './policies';
import { statusRefusal } from './suspension';
import type { TenantStatusResolver } from './tenant-status';
import type { Reservation, UsageMeter } from './usage';

/** One tenant admitted (or refused) for one call, and the room held for it until it is settled. */
export interface Grant {
  tenantId: string;
  /** Why the call may not act for the tenant (its status, its API-call limit); null when admitted. */
  refused: AppError | null;
  allowance: Admission['allowance'];
  reservation: Reservation | null;
}

/**
 * Whether something may be done for a tenant now, decided the same way on every path into it: GraphQL over
 * HTTP and WebSocket (signed-in members, API keys, anonymous callers on its custom domain), calls that learn
 * their tenant on the way (an invitation accepted) and hooks that act for it (inbound webhooks, single
 * sign-on). First its status — a suspended, expired or deleted tenant may only do what gateway/suspension.ts
 * allows (403 TENANT_SUSPENDED, TRIAL_EXPIRED, TENANT_DELETED) — then, for metered callers, its hard limits:
 * the API-call limit refuses the call (429 QUOTA_EXCEEDED); messages and members are held for the call as far
 * as there is room and each subgraph refuses a use beyond that where it happens (kernel/admission.ts), so a
 * retried send that creates nothing new is not refused. A grant is settled with what the subgraphs reported
 * creating.
 */
export class TenantAdmission {
  constructor(
    private readonly statuses: TenantStatusResolver,
    private readonly usage: UsageMeter,
    /** What the subgraphs declared in the supergraph the gateway runs now. */
    private readonly policies: () => FieldPolicies,
  ) {}

  /**
   * Admits `tenantId` for `fields` (root fields of an `operation`, or the mutation a call acts as); never throws
   * a refusal, returns it.
   */
  async grant(
    tenantId: string,
    operation: OperationType,
    fields: readonly string[],
    options: { metered: boolean },
  ): Promise<Grant> {
    const status = await this.statuses.status(tenantId);
    if (status === 'unknown')
      return {
        tenantId,
        refused: new AppError(KernelErrorCode.NOT_FOUND, 'This tenant does not exist', {}, 404),
        allowance: null,
        reservation: null,
      };
    const policies = this.policies();
    const refused = statusRefusal(status, operation, fields, policies);
    // A refused tenant's figures are not read: nothing will be counted.
    if (refused || !options.metered) return { tenantId, refused, allowance: null, reservation: null };
    const quota = await this.usage.reserve(tenantId, operation, fields, policies);
    const over = quota.over ? quotaExceeded(quota.over.metric, quota.over.limit, 429) : null;
    return { tenantId, refused: over, allowance: quota.allowance, reservation: quota.reservation };
  }

  /** Ends a grant with what was created for its tenant (one metered call, plus those effects). */
  settle(grant: Grant, effects: Partial<Record<MeteredMetric, number>> = {}): void {
    if (grant.reservation) this.usage.settle(grant.reservation, effects);
    grant.reservation = null;
  }
}

/** The admission a subgraph receives for a grant, with what the call has already used of it. */
export function admissionFor(grant: Grant, used: Partial<Record<MeteredMetric, number>> = {}): Admission {
  const refused = grant.refused
    ? {
        code: String(grant.refused.extensions.code),
        message: grant.refused.message,
        metric: grant.refused.extensions.metric as string | undefined,
        limit: grant.refused.extensions.limit as number | undefined,
      }
    : null;
  if (!grant.allowance) return { tenantId: grant.tenantId, refused, allowance: null };
  const allowance: NonNullable<Admission['allowance']> = {};
  for (const [metric, a] of Object.entries(grant.allowance) as [
    MeteredMetric,
    NonNullable<Admission['allowance']>[MeteredMetric],
  ][]) {
    if (a) allowance[metric] = { ...a, granted: Math.max(0, a.granted - (used[metric] ?? 0)) };
  }
  return { tenantId: grant.tenantId, refused, allowance };
}
