import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withSystem, withTenant } from '../../../kernel/db/tenant-scope';
import { isUuid, returningRows } from '../../../kernel/db/values';
import { recordEvent } from '../../../kernel/events';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { LIMITS_CHANGED_TOPIC } from '../../../kernel/contracts/topics';
import { TenancyErrorCode, tenancyError } from '../tenancy.errors';
import { DEFAULT_LIMITS, MONTHLY, Metric, type TenantLimitsInput, type TenantUsage } from './usage.types';

const METRICS = new Set<string>(Object.values(Metric));
const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

export interface UsageIncrement {
  tenantId: string;
  metric: string;
  module?: string;
  hour: string;
  amount: number;
}

/** One hourly bucket as the upsert left it (its total so far). */
interface UsageBucket {
  tenant_id: string;
  metric: string;
  module: string;
  hour: Date;
  amount: string;
}

/** For the gateway: limits and what is used of them now (this month for monthly metrics). */
export interface QuotaStatus {
  limits: Record<string, number>;
  used: Record<string, number>;
}

function monthOf(period: string | null | undefined): { period: string; from: Date; to: Date } {
  const now = new Date();
  const value = period ?? `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
  const m = PERIOD.exec(value);
  if (!m) throw tenancyError(TenancyErrorCode.INVALID_PERIOD);
  const from = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1));
  const to = new Date(Date.UTC(Number(m[1]), Number(m[2]), 1));
  return { period: value, from, to };
}

async function limitsOf(em: EntityManager, tenantId: string): Promise<Record<Metric, number>> {
  const [row]: { limits: Partial<Record<Metric, number>> }[] = await em.query(
    `SELECT limits FROM tenancy.tenant_limits WHERE tenant_id = $1`,
    [tenantId],
  );
  return { ...DEFAULT_LIMITS, ...(row?.limits ?? {}) };
}

async function usedOf(em: EntityManager, tenantId: string, from: Date, to: Date): Promise<Record<Metric, number>> {
  const rows: { metric: Metric; total: string }[] = await em.query(
    `SELECT metric, sum(amount)::text AS total FROM tenancy.usage WHERE tenant_id = $1 AND hour >= $2 AND hour < $3 GROUP BY metric`,
    [tenantId, from, to],
  );
  const [members]: { n: number }[] = await em.query(
    `SELECT count(*)::int AS n FROM tenancy.memberships WHERE tenant_id = $1`,
    [tenantId],
  );
  const used = Object.fromEntries(Object.values(Metric).map((m) => [m, 0])) as Record<Metric, number>;
  for (const r of rows) if (MONTHLY.includes(r.metric)) used[r.metric] = Number(r.total);
  used[Metric.MEMBERS] = members?.n ?? 0;
  return used;
}

/**
 * Usage metering and plan-of-record limits. Gateways count API calls (and other metered operations) in
 * memory and send them here in batches, so no request waits for a database write; hard limits are
 * enforced at the gateway from `status`.
 */
export class UsageService {
  constructor(private readonly deps: SubgraphDeps) {}

  /** Adds counted usage to hourly buckets (from gateways; unknown tenants are skipped). */
  async record(batch: UsageIncrement[]): Promise<{ recorded: number }> {
    const rows = (Array.isArray(batch) ? batch : []).filter(
      (r) =>
        isUuid(r?.tenantId) &&
        METRICS.has(r.metric) &&
        Number.isInteger(r.amount) &&
        r.amount > 0 &&
        r.amount <= 1_000_000_000 &&
        typeof r.hour === 'string' &&
        !Number.isNaN(Date.parse(r.hour)) &&
        (r.module === undefined || (typeof r.module === 'string' && r.module.length <= 64)),
    );
    if (!rows.length) return { recorded: 0 };
    await withSystem(
      this.deps.ds,
      'record usage',
      async (em) => {
        const buckets = returningRows<UsageBucket>(
          await em.query(
            `INSERT INTO tenancy.usage (tenant_id, metric, module, hour, amount)
             SELECT u.tenant_id, u.metric, u.module, date_trunc('hour', u.at), sum(u.amount)
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[]) AS u(tenant_id, metric, module, at, amount)
              WHERE EXISTS (SELECT 1 FROM tenancy.tenants t WHERE t.tenant_id = u.tenant_id)
              GROUP BY 1, 2, 3, 4
             ON CONFLICT (tenant_id, metric, module, hour) DO UPDATE SET amount = tenancy.usage.amount + EXCLUDED.amount
             RETURNING tenant_id, metric, module, hour, amount::text AS amount`,
            [
              rows.map((r) => r.tenantId),
              rows.map((r) => r.metric),
              rows.map((r) => r.module ?? ''),
              rows.map((r) => r.hour),
              rows.map((r) => r.amount),
            ],
          ),
        );
        // One event per bucket this batch touched, with the bucket's total (billing keeps the largest it saw).
        for (const b of buckets) {
          await recordEvent(em, 'tenancy', {
            type: 'tenancy.usage_recorded',
            tenantId: b.tenant_id,
            payload: {
              tenantId: b.tenant_id,
              metric: b.metric,
              module: b.module,
              hour: new Date(b.hour).toISOString(),
              amount: Number(b.amount),
            },
          });
        }
      },
      'debug',
    );
    return { recorded: rows.length };
  }

  async status(tenantId: string): Promise<QuotaStatus | null> {
    if (!isUuid(tenantId)) return null;
    const { from, to } = monthOf(null);
    return withSystem(
      this.deps.ds,
      'quota status',
      async (em) => ({ limits: await limitsOf(em, tenantId), used: await usedOf(em, tenantId, from, to) }),
      'debug',
    );
  }

  /** The current tenant's usage and limits in a month (default: this one). */
  usage(ctx: RequestContext, period: string | null | undefined): Promise<TenantUsage> {
    const month = monthOf(period);
    return withTenant(this.deps.ds, ctx, (em, tenantId) => this.report(em, tenantId, month));
  }

  /** Any tenant's, for platform operators (the logged system path). */
  tenantUsage(tenantId: string, period: string | null | undefined): Promise<TenantUsage> {
    const month = monthOf(period);
    if (!isUuid(tenantId)) throw tenancyError(TenancyErrorCode.TENANT_NOT_FOUND);
    return withSystem(this.deps.ds, `usage of ${tenantId}`, async (em) => {
      const [t]: unknown[] = await em.query(`SELECT 1 FROM tenancy.tenants WHERE tenant_id = $1`, [tenantId]);
      if (!t) throw tenancyError(TenancyErrorCode.TENANT_NOT_FOUND);
      return this.report(em, tenantId, month);
    });
  }

  async setLimits(tenantId: string, input: TenantLimitsInput): Promise<TenantUsage> {
    if (!isUuid(tenantId)) throw tenancyError(TenancyErrorCode.TENANT_NOT_FOUND);
    const given: Partial<Record<Metric, number | null | undefined>> = {
      [Metric.API_CALLS]: input.apiCallsPerMonth,
      [Metric.MESSAGES]: input.messagesPerMonth,
      [Metric.MEMBERS]: input.members,
      [Metric.STORAGE_BYTES]: input.storageBytes,
      [Metric.LLM_TOKENS]: input.llmTokensPerMonth,
    };
    const limits = Object.fromEntries(
      Object.entries(given)
        .filter(([, v]) => v !== undefined && v !== null)
        .map(([k, v]) => [k, Number(v)]),
    );
    if (Object.values(limits).some((v) => !Number.isSafeInteger(v) || v < 0))
      throw tenancyError(TenancyErrorCode.INVALID_LIMITS);
    return withSystem(this.deps.ds, `limits of ${tenantId}`, async (em) => {
      const [t]: unknown[] = await em.query(`SELECT 1 FROM tenancy.tenants WHERE tenant_id = $1`, [tenantId]);
      if (!t) throw tenancyError(TenancyErrorCode.TENANT_NOT_FOUND);
      await em.query(
        `INSERT INTO tenancy.tenant_limits (tenant_id, limits) VALUES ($1, $2)
         ON CONFLICT (tenant_id) DO UPDATE SET limits = tenancy.tenant_limits.limits || EXCLUDED.limits, updated_at = now()`,
        [tenantId, JSON.stringify(limits)],
      );
      return this.report(em, tenantId, monthOf(null));
    }).then(async (report) => {
      await this.deps.pubsub.publish(LIMITS_CHANGED_TOPIC, { tenantId });
      return report;
    });
  }

  private async report(
    em: EntityManager,
    tenantId: string,
    month: { period: string; from: Date; to: Date },
  ): Promise<TenantUsage> {
    const limits = await limitsOf(em, tenantId);
    const used = await usedOf(em, tenantId, month.from, month.to);
    const hourly: { hour: Date; metric: Metric; module: string; amount: string }[] = await em.query(
      `SELECT hour, metric, module, amount::text AS amount FROM tenancy.usage WHERE tenant_id = $1 AND hour >= $2 AND hour < $3 ORDER BY hour, metric, module`,
      [tenantId, month.from, month.to],
    );
    return {
      period: month.period,
      metrics: Object.values(Metric).map((metric) => ({
        metric,
        used: used[metric],
        limit: limits[metric],
        exceeded: used[metric] >= limits[metric],
      })),
      hourly: hourly.map((h) => ({ ...h, amount: Number(h.amount) })),
    };
  }
}
