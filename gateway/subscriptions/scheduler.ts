/**
 * Per-event work (a group's lookup of an event through the gateway) taken in turns between tenants: each
 * tenant has at most `perTenant` lookups running and the gateway at most `total`, and the next one to start
 * is the oldest waiting of the tenant served longest ago. So one tenant's many subscriptions use a bounded
 * share of the gateway and of the subgraphs, however many events they get, and other tenants' lookups (and
 * queries) never wait behind theirs. What waits is bounded per tenant: beyond it a lookup is refused and
 * its subscribers are told they missed events.
 */
export interface SchedulerLimits {
  perTenant: number;
  total: number;
  /** Lookups a tenant may have waiting. */
  maxWaiting: number;
}

export const DEFAULT_SCHEDULER_LIMITS: SchedulerLimits = { perTenant: 4, total: 32, maxWaiting: 5_000 };

interface Turn {
  waiting: (() => void)[];
  running: number;
}

export class FairScheduler {
  /** Tenants with work, in the order they are served (served ones move to the back). */
  private readonly tenants = new Map<string, Turn>();
  private active = 0;

  constructor(private readonly limits: SchedulerLimits = DEFAULT_SCHEDULER_LIMITS) {}

  /** Runs `task` in the tenant's turn; null (nothing run) when the tenant already has too much waiting. */
  run<T>(tenantId: string, task: () => Promise<T>): Promise<T> | null {
    let turn = this.tenants.get(tenantId);
    if (!turn) this.tenants.set(tenantId, (turn = { waiting: [], running: 0 }));
    if (turn.waiting.length >= this.limits.maxWaiting) return null;
    const t = turn;
    const result = new Promise<T>((resolve, reject) => {
      t.waiting.push(() => {
        Promise.resolve()
          .then(task)
          .then(resolve, reject)
          .finally(() => {
            t.running--;
            this.active--;
            if (t.running === 0 && t.waiting.length === 0 && this.tenants.get(tenantId) === t)
              this.tenants.delete(tenantId);
            this.pump();
          });
      });
    });
    this.pump();
    return result;
  }

  private pump(): void {
    while (this.active < this.limits.total) {
      let started = false;
      for (const [tenantId, turn] of this.tenants) {
        if (turn.waiting.length === 0 || turn.running >= this.limits.perTenant) continue;
        const start = turn.waiting.shift()!;
        turn.running++;
        this.active++;
        // To the back of the line.
        this.tenants.delete(tenantId);
        this.tenants.set(tenantId, turn);
        start();
        started = true;
        break;
      }
      if (!started) return;
    }
  }
}
