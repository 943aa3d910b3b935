import { createHash } from 'node:crypto';
import type { RequestContext } from '../kernel/context';
import type { PubSub } from '../kernel/pubsub';
import { API_KEY_REVOKED_TOPIC, PERMISSIONS_CHANGED_TOPIC } from '../kernel/contracts/topics';
import type { InternalClient } from './internal-client';
import type { InternalResponse } from '../kernel/contracts/internal-calls';
import { TtlCache } from './ttl-cache';

type Principal = NonNullable<InternalResponse<'verify-api-key'>>;

const CACHE_MS = 30_000;

/**
 * API keys at the gateway: identity says who a key acts as (cached briefly, dropped at once when the key
 * is revoked or its tenant's rights change), and each key has its own request rate (token bucket per gateway instance).
 */
export class ApiKeyAuthenticator {
  private readonly cache = new TtlCache<{ principal: Principal | null; prefix: string }>(10_000);
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly stops: (() => void)[];

  constructor(
    private readonly identity: InternalClient<'identity'>,
    private readonly perMinute: number,
    pubsub: PubSub,
  ) {
    this.stops = [
      pubsub.listen(API_KEY_REVOKED_TOPIC, ({ prefix }) => this.forget(prefix)),
      // A key acts with at most its creator's current rights: when rights in a tenant change, ask again.
      pubsub.listen(PERMISSIONS_CHANGED_TOPIC, ({ tenantId }) => {
        this.cache.deleteWhere((_hash, entry) => entry.principal?.tenantId === tenantId);
      }),
    ];
  }

  /** A key was revoked (announced, or read from identity's list): it is asked about again on its next use. */
  forget(prefix: string): void {
    this.cache.deleteWhere((_hash, entry) => entry.prefix === prefix);
  }

  static looksLikeKey(value: string): boolean {
    return value.startsWith('nxk_');
  }

  /** The caller's context for a key; null when unknown, revoked or expired; 'rate_limited' past its rate. */
  async authenticate(key: string, requestId: string): Promise<RequestContext | null | 'rate_limited'> {
    const hash = createHash('sha256').update(key).digest('hex');
    const entry =
      this.cache.get(hash) ??
      this.cache.set(
        hash,
        { principal: await this.lookup(key), prefix: key.split('_').slice(0, 2).join('_') },
        CACHE_MS,
      );
    const p = entry.principal;
    if (!p) return null;
    if (!this.allow(p.keyId)) return 'rate_limited';
    return {
      requestId,
      tenantId: p.tenantId,
      userId: p.userId,
      sessionId: null,
      roles: [],
      permissions: p.permissions,
      authMethod: 'api_key',
      impersonatorId: null,
    };
  }

  /** Takes one request from the key's budget; false when it is spent. */
  private allow(keyId: string): boolean {
    const now = Date.now();
    const capacity = this.perMinute;
    const bucket = this.buckets.get(keyId) ?? { tokens: capacity, at: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 60_000) * capacity);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.buckets.set(keyId, bucket);
      return false;
    }
    bucket.tokens -= 1;
    this.buckets.set(keyId, bucket);
    return true;
  }

  private lookup(key: string): Promise<Principal | null> {
    return this.identity.call('verify-api-key', { key });
  }

  close(): void {
    for (const stop of this.stops) stop();
  }
}
