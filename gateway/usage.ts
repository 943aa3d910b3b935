import type { ApolloServerPlugin } from '@apollo/server';
import { AppError } from '../kernel/errors';
import { logger } from '../kernel/log';
import type { PubSub } from '../kernel/pubsub';
import { LIMITS_CHANGED_TOPIC } from '../kernel/topics';
import type { InternalClient } from './internal-client';
import { rootFields } from './suspension';
import { TtlCache } from './ttl-cache';
import type { GatewayContext } from './signed-data-source';

const log = logger('gateway.usage');
const STATUS_MS = 30_000;

/** Root fields that use up a metered resource besides the API call itself. */
const METERED_FIELDS: Record<string, string> = { sendMessage: 'messages', inviteUser: 'members' };
/** What a tenant over a limit can still do: see its usage, status and account, sign out. */
const EXEMPT = new Set(['usage', 'currentTenant', 'myTenants', 'me', 'myAccess', 'switchTenant', 'logout', 'logoutEverywhere', 'entitlements', '__typename']);

interface QuotaStatus {
  limits: Record<string, number>;
  used: Record<string, number>;
}

type Counts = Map<string, number>;

/** Tenancy's figures and what this gateway counted since reading them. */
interface QuotaEntry {
  status: QuotaStatus | null;
  local: Counts;
}

const add = (counts: Counts, metric: string, n = 1) => counts.set(metric, (counts.get(metric) ?? 0) + n);

/**
 * Counts API calls (and metered operations) per tenant in memory and sends them to tenancy in batches
 * every USAGE_FLUSH_MS, so no request waits for a database write; unsent counts are kept when tenancy is
 * unreachable. Hard limits are checked against tenancy's status (cached, dropped when limits change)
 * plus what this gateway counted since it read it.
 */
export class UsageMeter {
  /** Counted, not yet sent: tenant → hour → metric → n. */
  private pending = new Map<string, Map<string, Counts>>();
  private readonly status = new TtlCache<QuotaEntry>(50_000);
  private readonly timer: NodeJS.Timeout;
  private readonly stop: () => void;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly tenancy: InternalClient,
    flushMs: number,
    pubsub: PubSub,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
    this.stop = pubsub.listen(LIMITS_CHANGED_TOPIC, (p) => {
      const { tenantId } = p as { tenantId?: string };
      if (typeof tenantId === 'string') this.status.delete(tenantId);
    });
  }

  /** The metric whose limit the operation would exceed, if any. */
  async exceeded(tenantId: string, fields: string[]): Promise<{ metric: string; limit: number } | null> {
    if (fields.every((f) => EXEMPT.has(f))) return null;
    const entry = await this.current(tenantId);
    if (!entry.status) return null;
    const metrics = ['api_calls', ...fields.map((f) => METERED_FIELDS[f]).filter(Boolean)];
    for (const metric of metrics) {
      const limit = entry.status.limits[metric];
      const used = (entry.status.used[metric] ?? 0) + (entry.local.get(metric) ?? 0);
      if (limit !== undefined && used >= limit) return { metric, limit };
    }
    return null;
  }

  count(tenantId: string, fields: string[], succeeded: boolean): void {
    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000).toISOString();
    const byHour = this.pending.get(tenantId) ?? new Map<string, Counts>();
    this.pending.set(tenantId, byHour);
    const counts = byHour.get(hour) ?? new Map<string, number>();
    byHour.set(hour, counts);
    const local = this.status.last(tenantId)?.local;
    const metrics = ['api_calls', ...(succeeded ? fields.map((f) => METERED_FIELDS[f]).filter((m) => m && m !== 'members') : [])];
    for (const metric of metrics) {
      add(counts, metric);
      if (local) add(local, metric);
    }
  }

  flush(): Promise<void> {
    this.flushing ??= this.send().finally(() => (this.flushing = null));
    return this.flushing;
  }

  private async send(): Promise<void> {
    if (!this.pending.size) return;
    const batch = this.pending;
    this.pending = new Map();
    const rows = [...batch].flatMap(([tenantId, byHour]) =>
      [...byHour].flatMap(([hour, counts]) => [...counts].map(([metric, amount]) => ({ tenantId, hour, metric, amount }))),
    );
    try {
      await this.tenancy.call('record-usage', rows);
    } catch (err) {
      log.warn({ err, rows: rows.length }, 'usage not recorded yet; kept for the next flush');
      for (const r of rows) {
        const byHour = this.pending.get(r.tenantId) ?? new Map<string, Counts>();
        this.pending.set(r.tenantId, byHour);
        add(byHour.get(r.hour) ?? byHour.set(r.hour, new Map()).get(r.hour)!, r.metric, r.amount);
      }
    }
  }

  private async current(tenantId: string): Promise<QuotaEntry> {
    const fresh = this.status.get(tenantId);
    if (fresh) return fresh;
    // What is counted but not sent yet is not in tenancy's numbers: it starts the local count.
    const local: Counts = new Map();
    for (const counts of this.pending.get(tenantId)?.values() ?? []) for (const [metric, n] of counts) add(local, metric, n);
    let status: QuotaStatus | null = null;
    try {
      status = await this.tenancy.call<QuotaStatus | null>('quota-status', { tenantId });
    } catch {
      status = this.status.last(tenantId)?.status ?? null; // tenancy unreachable: the last numbers, or no enforcement until it answers
    }
    return this.status.set(tenantId, { status, local }, status ? STATUS_MS : 5_000);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.stop();
    await this.flush();
  }
}

/** Refuses an operation over a hard limit (HTTP 429, QUOTA_EXCEEDED) and counts the ones that ran. */
export function usagePlugin(meter: UsageMeter): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ contextValue }) {
      const tenantId = contextValue?.ctx?.tenantId;
      if (!tenantId || contextValue.ctx.authMethod === 'anonymous' || contextValue.ctx.authMethod === 'system') return {};
      let fields: string[] | null = null;
      return {
        async didResolveOperation({ operation }) {
          if (!operation || operation.operation === 'subscription') return;
          fields = rootFields(operation);
          const over = await meter.exceeded(tenantId, fields);
          if (over) throw new AppError('QUOTA_EXCEEDED', `This tenant has used its ${over.metric} limit (${over.limit}) for now`, { metric: over.metric, limit: over.limit }, 429);
        },
        async willSendResponse({ response, errors }) {
          if (!fields) return;
          const failed = Boolean(errors?.length) || (response.body.kind === 'single' && Boolean(response.body.singleResult.errors?.length));
          meter.count(tenantId, fields, !failed);
        },
      };
    },
  };
}
