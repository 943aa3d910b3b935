import type { PubSub } from '../../kernel/pubsub';
import { SESSION_REVOKED_TOPIC, TENANT_SUSPENDED_TOPIC } from '../../kernel/topics';


export interface SessionRevoked {
  sessionId: string;
}
export interface TenantSuspended {
  tenantId: string;
}

/**
 * Revoked sessions and suspended tenants this gateway has heard of (kept until every access token
 * issued before could have expired), and listeners that end live connections when one arrives.
 */
export class AccessGuard {
  private readonly revoked = new Map<string, number>();
  private readonly suspended = new Set<string>();
  private readonly listeners = new Set<(kind: 'session' | 'tenant', id: string) => void>();
  private readonly stops: (() => void)[] = [];

  constructor(
    pubsub: PubSub,
    private readonly accessTokenTtlMs: number,
  ) {
    this.stops.push(
      pubsub.listen(SESSION_REVOKED_TOPIC, (p) => {
        const { sessionId } = p as SessionRevoked;
        if (typeof sessionId !== 'string') return;
        this.revoked.set(sessionId, Date.now() + this.accessTokenTtlMs);
        this.emit('session', sessionId);
      }),
      pubsub.listen(TENANT_SUSPENDED_TOPIC, (p) => {
        const { tenantId } = p as TenantSuspended;
        if (typeof tenantId !== 'string') return;
        this.suspended.add(tenantId);
        this.emit('tenant', tenantId);
      }),
    );
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

  isSuspended(tenantId: string | null): boolean {
    return tenantId !== null && this.suspended.has(tenantId);
  }

  onChange(listener: (kind: 'session' | 'tenant', id: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(kind: 'session' | 'tenant', id: string): void {
    for (const listener of this.listeners) listener(kind, id);
  }

  close(): void {
    for (const stop of this.stops) stop();
    this.listeners.clear();
  }
}
