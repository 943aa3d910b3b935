import type { PubSub } from '../../kernel/pubsub';
import { API_KEY_REVOKED_TOPIC, PERMISSIONS_CHANGED_TOPIC, SESSION_REVOKED_TOPIC } from '../../kernel/topics';


/** How many suspended tenants a gateway remembers (as many as it caches statuses of). */
const MAX_SUSPENDED = 50_000;

/** What changed: a session revoked, a tenant suspended, a tenant's permissions, an API key revoked. */
export type AccessChange = 'session' | 'tenant' | 'permissions' | 'api_key';

export interface SessionRevoked {
  sessionId: string;
}

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
      pubsub.listen(SESSION_REVOKED_TOPIC, (p) => {
        const { sessionId } = p as SessionRevoked;
        if (typeof sessionId === 'string') this.noteRevoked(sessionId);
      }),
      // Rights changed or a key was revoked: live connections must be checked again.
      pubsub.listen(PERMISSIONS_CHANGED_TOPIC, (p) => {
        const { tenantId } = p as { tenantId?: string };
        if (typeof tenantId === 'string') setImmediate(() => this.emit('permissions', tenantId));
      }),
      pubsub.listen(API_KEY_REVOKED_TOPIC, (p) => {
        const { prefix } = p as { prefix?: string };
        if (typeof prefix === 'string') this.emit('api_key', prefix);
      }),
    );
  }

  /**
   * A revoked session (announced, or read from identity's list: gateway/revocations.ts): refused until every
   * access token issued before could have expired; its live connections end.
   */
  noteRevoked(sessionId: string): void {
    if (this.isRevoked(sessionId)) return;
    const now = Date.now();
    // Entries expire in the order they were added: those no token can outlive any more go first.
    for (const [id, until] of this.revoked) {
      if (until >= now) break;
      this.revoked.delete(id);
    }
    this.revoked.set(sessionId, now + this.accessTokenTtlMs);
    this.emit('session', sessionId);
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
