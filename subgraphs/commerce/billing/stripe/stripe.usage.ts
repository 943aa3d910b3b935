import type { EntityManager } from 'typeorm';
import { enterTenantScope, leaveTenantScope } from '../../../../kernel/db/tenant-scope';
import { logger } from '../../../../kernel/log';
import type { SubgraphDeps } from '../../../../kernel/subgraph';
import { loadAccount, loadPlan } from '../billing.store';
import type { StripeProvider } from './stripe.provider';

const log = logger('commerce.billing.stripe.usage');

/** Stripe takes meter events of the past 35 days; an hour is sent only if it starts a margin inside that window. */
export const METER_EVENT_MAX_AGE_SECONDS = 35 * 86_400 - 3_600;

interface PendingRow {
  metric: string;
  module: string;
  hour: Date;
  amount: string;
  reported: string;
}

export interface UsageReport {
  /** Buckets whose new usage Stripe now has (sent, or found already sent by an earlier attempt). */
  sent: number;
  /** Buckets too old for Stripe (marked reported, with a warning). */
  expired: number;
  /** Buckets left for a later report (a Stripe failure stopped this one after some were sent). */
  pending: number;
}

/** The identifier of a meter event: the same bucket at the same total is the same event, however often it is sent. */
export function meterEventIdentifier(tenantId: string, metric: string, module: string, hour: Date, amount: string) {
  return `nexus:${tenantId}:${metric}:${module}:${hour.toISOString()}:${amount}`;
}

/**
 * Sends the tenant's metered usage that Stripe does not have yet (job `billing-usage-report`, in the job's
 * transaction): for each hourly bucket of a metric the current plan charges for, one meter event with what grew
 * since the last report (`amount - reported`), at the bucket's hour, then `reported = amount`.
 *
 * A retry after a failure re-sends the same identifier (the bucket and its total), which Stripe drops as a
 * duplicate; a Stripe failure throws (the job retries) unless some buckets were sent already, in which case those
 * are kept (committed) and the rest waits for the next report (`pending`: the caller schedules one). Buckets older
 * than Stripe accepts are skipped with a warning; usage of metrics the plan does not charge for is marked reported.
 * Nothing is sent while the tenant has no customer or subscription.
 */
export async function reportStripeUsage(
  _deps: SubgraphDeps,
  em: EntityManager,
  tenantId: string,
  provider: StripeProvider,
): Promise<UsageReport> {
  await enterTenantScope(em, tenantId);
  try {
    return await reportInScope(em, tenantId, provider);
  } finally {
    // The job runner marks the job done in this transaction, as the owner.
    await leaveTenantScope(em);
  }
}

async function reportInScope(em: EntityManager, tenantId: string, provider: StripeProvider): Promise<UsageReport> {
  const report: UsageReport = { sent: 0, expired: 0, pending: 0 };
  const account = await loadAccount(em, tenantId, provider.name);
  if (!account.customerId || !account.subscriptionId || !account.planId) return report;
  const plan = await loadPlan(em, account.planId);
  const metrics = [
    ...new Set(
      (plan?.prices ?? [])
        .filter((p) => p.kind === 'metered' && p.metric && (!account.interval || p.interval === account.interval))
        .map((p) => p.metric!),
    ),
  ];
  // Usage of metrics the plan does not charge for is accounted for as it is: a later plan that charges for them
  // bills their usage from then on, not what came before.
  await em.query(
    `UPDATE commerce.metered_usage SET reported = amount WHERE tenant_id = $1 AND amount > reported AND NOT (metric = ANY($2))`,
    [tenantId, metrics],
  );
  const rows: PendingRow[] = await em.query(
    `SELECT metric, module, hour, amount::text AS amount, reported::text AS reported FROM commerce.metered_usage
      WHERE tenant_id = $1 AND metric = ANY($2) AND amount > reported ORDER BY hour, metric, module`,
    [tenantId, metrics],
  );
  const oldest = Math.floor(Date.now() / 1000) - METER_EVENT_MAX_AGE_SECONDS;
  for (const [i, row] of rows.entries()) {
    // An hour bucket that began before the subscription's period counts from the period's start (Stripe bills usage
    // by its timestamp; the bucket's first minutes would otherwise fall outside every period).
    const periodStart = account.currentPeriodStart ? Math.floor(account.currentPeriodStart.getTime() / 1000) : 0;
    const timestamp = Math.max(Math.floor(row.hour.getTime() / 1000), periodStart);
    if (timestamp < oldest) {
      log.warn(
        { tenantId, metric: row.metric, module: row.module, hour: row.hour, unreported: delta(row) },
        'metered usage too old for Stripe: not billed',
      );
      report.expired += 1;
    } else {
      try {
        await provider.sendMeterEvent({
          metric: row.metric,
          customerId: account.customerId,
          value: delta(row),
          identifier: meterEventIdentifier(tenantId, row.metric, row.module, row.hour, row.amount),
          timestamp,
        });
      } catch (err) {
        // Nothing sent yet: the job retries. Some sent: keep them, the rest goes with the next report.
        if (report.sent === 0) throw err;
        report.pending = rows.length - i;
        log.warn({ tenantId, ...report, err }, 'usage report stopped by a Stripe failure; the rest waits');
        break;
      }
      report.sent += 1;
    }
    await em.query(
      `UPDATE commerce.metered_usage SET reported = $5 WHERE tenant_id = $1 AND metric = $2 AND module = $3 AND hour = $4`,
      [tenantId, row.metric, row.module, row.hour, row.amount],
    );
  }
  if (report.sent > 0) log.debug({ tenantId, ...report }, 'metered usage reported to Stripe');
  return report;
}

const delta = (row: PendingRow): string => (BigInt(row.amount) - BigInt(row.reported)).toString();
