import { isIP } from 'node:net';
import type { PubSub } from '../kernel/pubsub';
import { DOMAINS_CHANGED_TOPIC } from '../kernel/contracts/topics';
import type { InternalClient } from './internal-client';
import { TtlCache } from './ttl-cache';

const CACHE_MS = 60_000;

/**
 * The tenant a request's host name belongs to (a verified custom domain), from tenancy: cached,
 * forgotten at once when tenancy announces a domain change. Local names and addresses are never looked up.
 */
export class HostTenantResolver {
  private readonly cache = new TtlCache<{ tenantId: string | null }>(10_000);
  private readonly stop: () => void;

  constructor(
    private readonly tenancy: InternalClient<'tenancy'>,
    pubsub: PubSub,
  ) {
    this.stop = pubsub.listen(DOMAINS_CHANGED_TOPIC, ({ domain }) => this.cache.delete(domain));
  }

  async tenantFor(hostname: string | undefined): Promise<string | null> {
    const host = (hostname ?? '').toLowerCase().replace(/\.$/, '');
    if (!host.includes('.') || isIP(host) || host.endsWith('.localhost')) return null;
    const hit = this.cache.get(host);
    if (hit) return hit.tenantId;
    let found: { tenantId: string } | null;
    let ttl = CACHE_MS;
    try {
      found = await this.tenancy.call('tenant-for-host', { host });
    } catch {
      // Tenancy unreachable: no tenant from the host for now (a token still names its own), asked again soon.
      found = null;
      ttl = 5_000;
    }
    return this.cache.set(host, { tenantId: found?.tenantId ?? null }, ttl).tenantId;
  }

  close(): void {
    this.stop();
  }
}
