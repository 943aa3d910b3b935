import type { PubSub } from '../../kernel/pubsub';
import { API_KEY_REVOKED_TOPIC, PERMISSIONS_CHANGED_TOPIC, SESSION_REVOKED_TOPIC } from '../../kernel/contracts/topics';

/** How many suspended tenants a gateway remembers (as many as it caches statuses of). */
const MAX_SUSPENDED = 50_000;

/** What changed: a session revoked, a tenant suspended, a tenant's permissions, an API key revoked. */
export type AccessChange = 'session' | 'tenant' | 'permissions' | 'api_key';

/**
 * How much longer than an access token lives a revoked session is remembered: token expiry is judged by
 * this gateway's clock, revocation times by identity's (and the database's), which may differ this much.
 */
export const CLOCK_MARGIN_MS = 60_000;

/**
 * Revoked sessions and suspended tenants this gateway has heard of (kept until every access token
 * issued before could have expired), and listeners that end live connections when one arrives.
 */
export class AccessGuard {
  private readonly revoked = new Map<string, number>();
  private readonly suspended = new Set<string>();
  private readonly listeners = new Set<(kind: AccessChange, id: string) => void>();
  private readonly stops: (() => void)[] = [];

  constructor(
    pubsub: PubSub,
    private readonly accessTokenTtlMs: number,
  ) {
    this.stops.push(
      pubsub.listen(SESSION_REVOKED_TOPIC, ({ sessionId, revokedAt }) =>
        this.noteRevoked([{ sessionId, revokedAt: revokedAt === undefined ? NaN : Date.parse(revokedAt) }]),
      ),
      // Rights changed or a key was revoked: live connections must be checked again.
      pubsub.listen(PERMISSIONS_CHANGED_TOPIC, ({ tenantId }) => {
        setImmediate(() => this.emit('permissions', tenantId));
      }),
      pubsub.listen(API_KEY_REVOKED_TOPIC, ({ prefix }) => {
        this.emit('api_key', prefix);
      }),
    );
  }

  /**
   * Revoked sessions (announced, or read from identity's list: gateway/revocations.ts): each is refused
   * until no access token issued before its revocation can still be valid — an access token's lifetime
   * after the revocation (or after now, if this gateway's clock is behind), plus CLOCK_MARGIN_MS — and its
   * live connections end (one check of the connections for the whole batch).
   */
  noteRevoked(sessions: readonly { sessionId: string; revokedAt?: number }[]): void {
    const now = Date.now();
    // Entries mostly expire in the order they were added: those no token can outlive any more go first.
    for (const [id, until] of this.revoked) {
      if (until >= now) break;
      this.revoked.delete(id);
    }
    let added = false;
    for (const { sessionId, revokedAt } of sessions) {
      const until =
        Math.max(now, Number.isFinite(revokedAt) ? revokedAt! : now) + this.accessTokenTtlMs + CLOCK_MARGIN_MS;
      const known = this.revoked.get(sessionId);
      if (known !== undefined && known >= until) continue;
      if (known === undefined || known < now) added = true;
      this.revoked.set(sessionId, until);
    }
    if (added) this.emit('session', '*');
  }

  /** An API key revoked (read from identity's list): connections made with it end. */
  noteApiKeyRevoked(prefix: string): void {
    this.emit('api_key', prefix);
  }

  isRevoked(sessionId: string | null): boolean {
    if (!sessionId) return false;
    const until = this.revoked.get(sessionId);
    if (until === undefined) return false;
    if (until < Date.now()) {
      this.revoked.delete(sessionId);
      return false;
    }
    return true;
  }

  /** Tenant status as last learnt (see TenantStatusResolver); a suspension ends live connections. */
  noteTenantStatus(tenantId: string, suspended: boolean): void {
    if (!suspended) {
      this.suspended.delete(tenantId);
      return;
    }
    const wasSuspended = this.suspended.has(tenantId);
    this.suspended.add(tenantId);
    // Bounded like the status cache it mirrors: the oldest go first (their status is asked again on use).
    if (this.suspended.size > MAX_SUSPENDED) this.suspended.delete(this.suspended.values().next().value!);
    if (!wasSuspended) this.emit('tenant', tenantId);
  }

  isSuspended(tenantId: string | null): boolean {
    return tenantId !== null && this.suspended.has(tenantId);
  }

  onChange(listener: (kind: AccessChange, id: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(kind: AccessChange, id: string): void {
    for (const listener of this.listeners) listener(kind, id);
  }

  close(): void {
    for (const stop of this.stops) stop();
    this.listeners.clear();
  }
}
