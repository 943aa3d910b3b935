import { z } from 'zod';
import { currentContext, currentRequestState, type Admission, type Allowance, type RequestState } from './context';
import { AppError } from './errors';

/**
 * The contract between the gateway's tenant admission (gateway/admission.ts) and the subgraphs that act for a
 * tenant. The gateway decides whether something may be done for a tenant — its status, its hard limits — and
 * holds room for what the request may use; the subgraph applies that decision at the moment of the effect,
 * once it has authenticated the caller and knows what it is about to create, and reports what it created.
 *
 * - Each call a subgraph receives carries the admissions the gateway made for it, signed in its context
 *   (`RequestContext.admissions`): for the caller's tenant, and for any tenant a subgraph asked about.
 * - A subgraph that learns mid-request that it acts for a tenant the call carries no admission for (a hook
 *   whose path names the tenant, an invitation token) throws `AdmissionRequired` *before* any effect: the
 *   gateway admits that tenant (GraphQL: error code ADMISSION_REQUIRED; hooks: HTTP 428) and sends the same
 *   call again with the admission. A subgraph asks only once the call proved it concerns that tenant (a
 *   webhook's signature checked, an invitation's token found, a sign-in for a connection the tenant has), so
 *   a caller without such proof makes the gateway look no tenant up and learns nothing of its status.
 * - `spend` uses one unit of a metered resource (refused with the tenant's status, or QUOTA_EXCEEDED past what
 *   was granted); `noteEffect`, after the commit, reports it (GraphQL: response extension; hooks: header), and
 *   the gateway counts exactly that — a retried send that stored nothing new counts nothing.
 */

/** Resources a tenant's hard limits meter besides API calls (tenancy's metric names). */
export const METERED_METRICS = ['messages', 'members'] as const;
export type MeteredMetric = (typeof METERED_METRICS)[number];

/**
 * Root fields (mutations) a call may act as when it asks the gateway for admission (a hook, an invitation
 * accepted): each declares the one metered resource it may use on its resolver (`@GatewayPolicy('uses-messages')`,
 * kernel/contracts/gateway-policy.ts), which the gateway reads from the supergraph (it refuses a supergraph where one of them declares none). `inviteUser` creates no member,
 * but needs room for one; a sign-in through a tenant's identity provider that adds a member acts as
 * `acceptInvitation`.
 */
export const METERED_FIELDS = ['sendMessage', 'inviteUser', 'acceptInvitation'] as const;
export type MeteredField = (typeof METERED_FIELDS)[number];

/** The gateway's admission of one tenant for one call, as a subgraph receives it in its context. */
export type { Admission, Allowance } from './context';

/** Error code (GraphQL) through which a subgraph asks the gateway to admit a tenant before it acts for it. */
export const ADMISSION_REQUIRED = 'ADMISSION_REQUIRED';
/** The same for hooks: HTTP status, with `{ admissionRequired: { tenantId, actsAs } }` as body. */
export const ADMISSION_REQUIRED_STATUS = 428;
export const admissionRequestSchema = z.object({
  tenantId: z.uuid(),
  actsAs: z.enum(METERED_FIELDS),
});
export type AdmissionRequest = z.infer<typeof admissionRequestSchema>;

/** Response extension (GraphQL) and header (hooks) through which a subgraph reports what it created, by tenant. */
export const EFFECTS_EXTENSION = 'nexusEffects';
export const EFFECTS_HEADER = 'x-nexus-effects';
export const effectsSchema = z.record(
  z.uuid(),
  z.object({ messages: z.number().int().min(0).optional(), members: z.number().int().min(0).optional() }),
);
export type Effects = z.infer<typeof effectsSchema>;

export class AdmissionRequired extends AppError {
  constructor(readonly request: AdmissionRequest) {
    super(ADMISSION_REQUIRED, 'The gateway must admit this tenant first', { ...request });
  }
}

/** QUOTA_EXCEEDED, as the gateway and the subgraphs answer it (HTTP 429 where the gateway sets the status). */
export function quotaExceeded(metric: string, limit: number, httpStatus?: number): AppError {
  return new AppError(
    'QUOTA_EXCEEDED',
    `This tenant has used its ${metric} limit (${limit}) for now`,
    { metric, limit },
    httpStatus,
  );
}

/** Units spent per tenant and metric in the current subgraph request (several root fields may spend). */
const spentIn = new WeakMap<RequestState, Map<string, number>>();

/**
 * The gateway's admission of `tenantId` for this call. Without one, asks the gateway for it: throws
 * AdmissionRequired, so call it before anything takes effect.
 */
export function admissionOf(tenantId: string, actsAs: MeteredField): Admission {
  const found = currentContext().admissions?.find((a) => a.tenantId === tenantId);
  if (!found) throw new AdmissionRequired({ tenantId, actsAs });
  return found;
}

/** The refusal of acting for the tenant at all (its status, or its API-call limit); null when admitted. */
export function admissionRefusal(admission: Admission): AppError | null {
  const r = admission.refused;
  if (!r) return null;
  return r.code === 'QUOTA_EXCEEDED'
    ? quotaExceeded(r.metric ?? 'api_calls', r.limit ?? 0)
    : new AppError(r.code, r.message);
}

/**
 * Uses one unit of `metric` for `tenantId` in this call (as `actsAs`): throws the tenant's refusal, or
 * QUOTA_EXCEEDED beyond what the gateway granted. Call it inside the transaction that creates the thing, so a
 * refusal rolls it back, and `noteEffect` once that transaction committed.
 */
export function spend(tenantId: string, metric: MeteredMetric, actsAs: MeteredField): void {
  const admission = admissionOf(tenantId, actsAs);
  const refused = admissionRefusal(admission);
  if (refused) throw refused;
  if (!admission.allowance) return;
  const allowance = admission.allowance[metric];
  const state = currentRequestState();
  const spent = spentIn.get(state) ?? new Map<string, number>();
  spentIn.set(state, spent);
  const key = `${tenantId}:${metric}`;
  const used = spent.get(key) ?? 0;
  if (!allowance || used + 1 > allowance.granted) throw quotaExceeded(metric, allowance?.limit ?? 0);
  spent.set(key, used + 1);
}

/** The tenant's allowance of `metric` for this call (null: not metered); throws the tenant's refusal. */
export function allowanceOf(tenantId: string, metric: MeteredMetric, actsAs: MeteredField): Allowance | null {
  const admission = admissionOf(tenantId, actsAs);
  const refused = admissionRefusal(admission);
  if (refused) throw refused;
  return admission.allowance ? (admission.allowance[metric] ?? { granted: 0, room: 0, limit: 0 }) : null;
}

/** Reports `n` units of `metric` created for `tenantId` (after the commit): the gateway counts them. */
export function noteEffect(tenantId: string, metric: MeteredMetric, n = 1): void {
  const extensions = currentRequestState().responseExtensions;
  const effects = (extensions[EFFECTS_EXTENSION] ??= {}) as Effects;
  const forTenant = (effects[tenantId] ??= {});
  forTenant[metric] = (forTenant[metric] ?? 0) + n;
}

/** What a hook call created, as the header value the gateway reads (undefined: nothing). */
export function effectsHeader(state: RequestState): string | undefined {
  const effects = state.responseExtensions[EFFECTS_EXTENSION];
  return effects && Object.keys(effects).length ? JSON.stringify(effects) : undefined;
}
