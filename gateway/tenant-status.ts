import type { PubSub } from '../kernel/pubsub';
import { TENANT_STATUS_CHANGED_TOPIC } from '../kernel/contracts/topics';
import type { InternalClient } from './internal-client';
import { TtlCache } from './ttl-cache';
import type { AccessGuard } from './subscriptions/sessions';

/** A tenant's status as tenancy reports it ('unknown': no such tenant). */
export type TenantStatus = 'active' | 'suspended' | 'trial_expired' | 'deleted' | 'unknown';

const KNOWN = new Set(['active', 'suspended', 'trial_expired', 'deleted']);

const CACHE_MS = 30_000;
const UNREACHABLE_RETRY_MS = 5_000;

/**
 * Whether a tenant is active, from tenancy: cached briefly, replaced at once when tenancy announces a
 * change, so a gateway started after a suspension still refuses the tenant and a reactivation applies
 * on the next request.
 */
export class TenantStatusResolver {
  private readonly cache = new TtlCache<TenantStatus>(50_000);
  private readonly stop: () => void;

  constructor(
    private readonly tenancy: InternalClient<'tenancy'>,
    private readonly guard: AccessGuard,
    pubsub: PubSub,
  ) {
    this.stop = pubsub.listen(TENANT_STATUS_CHANGED_TOPIC, ({ tenantId, status }) => {
      // 'purged': the tenant no longer exists anywhere (and its live connections end).
      if (status === 'purged') this.guard.noteTenantStatus(tenantId, true);
      this.remember(tenantId, status === 'purged' ? 'unknown' : status);
    });
  }

  async status(tenantId: string): Promise<TenantStatus> {
    const fresh = this.cache.get(tenantId);
    if (fresh) return fresh;
    let found: { status: string } | null;
    try {
      found = await this.tenancy.call('tenant-status', { tenantId });
    } catch {
      // Suspension is a business state, not a credential: with tenancy unreachable, requests go on (rights
      // are still checked by identity, which fails closed) and the status is asked again shortly.
      const last = this.cache.last(tenantId) ?? 'active';
      this.remember(tenantId, last, UNREACHABLE_RETRY_MS);
      return last;
    }
    const status: TenantStatus = !found
      ? 'unknown'
      : KNOWN.has(found.status)
        ? (found.status as TenantStatus)
        : 'active';
    this.remember(tenantId, status);
    return status;
  }

  private remember(tenantId: string, status: TenantStatus, ttl = CACHE_MS): void {
    this.cache.set(tenantId, status, ttl);
    // A tenant that does not exist is nobody's to end connections of: the guard keeps real tenants only.
    if (status !== 'unknown') this.guard.noteTenantStatus(tenantId, status !== 'active');
  }

  close(): void {
    this.stop();
  }
}
