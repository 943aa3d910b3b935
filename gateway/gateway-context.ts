import type { MeteredMetric } from '../kernel/admission';
import type { RequestContext } from '../kernel/context';
import type { Grant } from './admission';
import type { TenantStatus } from './tenant-status';

/** What one GraphQL operation carries through the gateway: the caller, and what its plugins and fetches note. */
export interface GatewayContext {
  ctx: RequestContext;
  /** The caller's tenant status when the request started (gateway/admission.ts decides what may run). */
  tenantStatus?: TenantStatus;
  /** Tenants admitted for this operation (gateway/admission.ts): the caller's, and any a subgraph asked about. */
  grants?: Map<string, Grant>;
  /** What the subgraphs reported creating so far, by tenant (kernel/admission.ts `noteEffect`). */
  effects?: Map<string, Partial<Record<MeteredMetric, number>>>;
  /** A mutation root field took effect (see mutationOutcomePlugin). */
  mutated?: boolean;
}
