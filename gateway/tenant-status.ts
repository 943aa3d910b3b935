import type { PubSub } from '../kernel/pubsub';
import { TENANT_STATUS_CHANGED_TOPIC } from '../kernel/topics';
import type { InternalClient } from './internal-client';
import type { AccessGuard } from './subscriptions/sessions';

type Status = 'active' | 'suspended' | 'unknown';

const CACHE_MS = 30_000;
const UNREACHABLE_RETRY_MS = 5_000;

/**
 * Whether a tenant is active, from tenancy: cached briefly, replaced at once when tenancy announces a
 * change, so a gateway started after a suspension still refuses the tenant and a reactivation applies
 * on the next request.
 */
export class TenantStatusResolver {
  private readonly cache = new Map<string, { status: Status; until: number }>();
  private readonly stop: () => void;

  constructor(
    private readonly tenancy: InternalClient,
    private readonly guard: AccessGuard,
    pubsub: PubSub,
  ) {
    this.stop = pubsub.listen(TENANT_STATUS_CHANGED_TOPIC, (p) => {
      const { tenantId, status } = p as { tenantId?: string; status?: string };
      if (typeof tenantId !== 'string') return;
      this.remember(tenantId, status === 'suspended' ? 'suspended' : 'active');
    });
  }

  async status(tenantId: string): Promise<Status> {
    const hit = this.cache.get(tenantId);
    if (hit && hit.until > Date.now()) return hit.status;
    let found: { status: string } | null;
    try {
      found = await this.tenancy.call<{ status: string } | null>('tenant-status', { tenantId });
    } catch {
      // Suspension is a business state, not a credential: with tenancy unreachable, requests go on (rights
      // are still checked by identity, which fails closed) and the status is asked again shortly.
      this.remember(tenantId, hit?.status === 'suspended' ? 'suspended' : 'active', UNREACHABLE_RETRY_MS);
      return hit?.status === 'suspended' ? 'suspended' : 'active';
    }
    const status: Status = !found ? 'unknown' : found.status === 'suspended' ? 'suspended' : 'active';
    this.remember(tenantId, status);
    return status;
  }

  private remember(tenantId: string, status: Status, ttl = CACHE_MS): void {
    this.cache.set(tenantId, { status, until: Date.now() + ttl });
    if (this.cache.size > 50_000) this.cache.delete(this.cache.keys().next().value!);
    this.guard.noteTenantStatus(tenantId, status === 'suspended');
  }

  close(): void {
    this.stop();
  }
}
