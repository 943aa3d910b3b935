import type { EntityManager } from 'typeorm';
import { systemContext } from '../../../../kernel/context';
import { withTenant } from '../../../../kernel/db/tenant-scope';
import { scheduleJob } from '../../../../kernel/jobs';
import type { SubgraphDeps } from '../../../../kernel/subgraph';
import { CommerceErrorCode, commerceError } from '../../commerce.errors';
import type {
  BillingAccountRecord,
  BillingChanges,
  BillingInterval,
  BillingProvider,
  CheckoutRequest,
  InvoiceLineSnapshot,
  InvoiceSnapshot,
  PlanRecord,
} from '../billing.model';
import { loadInvoice, loadInvoices, loadPlan } from '../billing.store';
import { addInterval, prorate, scaleAmount, spanMs } from '../pricing';
import {
  RUNNING,
  advanceLines,
  advanceTotal,
  closingLines,
  customerIdOf,
  hasOverdueInvoice,
  invoiceCount,
  issueInvoice,
  periodFacts,
  randomId,
  snapshotOf,
  termsOf,
  type BuiltinTerms,
} from './builtin.period';

const HOUR_MS = 3_600_000;
/** How long after a period ends its usage is taken as complete. */
const USAGE_SETTLE_MS = 120_000;
const DAY_MS = 86_400_000;

/**
 * The plan change's proration, or null when nothing is owed: the new plan's flat and seat prices for what is left
 * of the period, less the unused part of the old plan's. The period is kept: when the interval changes, the new
 * price is scaled by the time left against one new interval (the next period then runs for a whole new interval).
 *
 * A downgrade's credit (net amount ≤ 0) is not kept: the built-in invoicer stores no balance, so it issues only
 * positive prorations and a credit beyond what the change costs is forfeited.
 */
export function prorationLine(args: {
  from: PlanRecord | null;
  fromInterval: BillingInterval;
  to: PlanRecord;
  toInterval: BillingInterval;
  seats: number;
  periodStart: Date;
  periodEnd: Date;
  now: Date;
  periodSeconds: number | null;
}): InvoiceLineSnapshot | null {
  const { periodStart, periodEnd, now } = args;
  const left = spanMs(now, periodEnd);
  const whole = spanMs(periodStart, periodEnd);
  if (left <= 0n || whole <= 0n) return null;
  const credit = args.from ? prorate(advanceTotal(args.from, args.fromInterval, args.seats), left, whole) : 0n;
  const perInterval = advanceTotal(args.to, args.toInterval, args.seats);
  const charge =
    args.toInterval === args.fromInterval
      ? prorate(perInterval, left, whole)
      : scaleAmount(perInterval, left, spanMs(now, addInterval(now, args.toInterval, args.periodSeconds)));
  const net = charge - credit;
  if (net <= 0n) return null;
  return {
    description: `Change to ${args.to.name} for the rest of the period, less the unused time of ${args.from?.name ?? 'the previous plan'}`,
    kind: 'proration',
    metric: null,
    quantity: '1',
    unitAmount: null,
    amount: String(net),
    periodStart: now,
    periodEnd,
  };
}

/**
 * The built-in invoicer: the provider when no Stripe key is configured. The platform's own records are the source
 * of truth: the billing account row is the subscription and `commerce.invoices` holds the invoices; there is no
 * customer portal, no payment method and nothing on the network. Subscriptions start at checkout; invoices are
 * issued with net terms (BILLING_INVOICE_DUE_SECONDS) and settled by an operator (`markInvoicePaid`); an invoice
 * left open past its due date goes through `BillingState`'s dunning like any other.
 *
 * Overdue invoices: dunning and the tenant's standing are `BillingState`'s. The subscription's status shows
 * `past_due` from the end of a period at which an earlier invoice is still open past its due date, and goes back
 * to `active` when the last overdue invoice is marked paid (or at a later period end without one).
 */
export class BuiltinProvider implements BillingProvider {
  readonly name = 'builtin' as const;

  constructor(private readonly deps: SubgraphDeps) {}

  private get terms(): BuiltinTerms {
    return termsOf(this.deps.config.billing);
  }

  /** Reads in the tenant's scope (a transaction of its own: provider calls are made outside any transaction). */
  private read<T>(tenantId: string, work: (em: EntityManager) => Promise<T>): Promise<T> {
    return withTenant(this.deps.ds, systemContext('billing', tenantId), (em) => work(em));
  }

  /** Nothing to create: a price is known by its key. */
  async syncPlan(plan: PlanRecord): Promise<Record<string, string>> {
    return Object.fromEntries(plan.prices.map((p) => [p.key, `builtin:${p.key}`]));
  }

  async ensureCustomer(account: BillingAccountRecord): Promise<string> {
    return customerIdOf(account.tenantId);
  }

  /**
   * Starts the subscription at once (there is nothing to confirm). With a trial: trialing for the plan's trial
   * days, no invoice. Otherwise active for one interval, with a first invoice of the flat and seat prices for that
   * period in advance (metered prices are invoiced at the period's end, for the usage of the period).
   */
  async startCheckout(request: CheckoutRequest): Promise<{ url: string; changes: BillingChanges }> {
    const { account, plan, interval, seats } = request;
    // Periods start on the hour: usage is counted in hourly buckets, so each bucket falls in exactly one period.
    // Periods of BILLING_PERIOD_SECONDS (demos) start now: a bucket counts in the period its hour begins in.
    const now = this.terms.periodSeconds ? new Date() : new Date(Math.floor(Date.now() / HOUR_MS) * HOUR_MS);
    const base = {
      subscriptionId: randomId('sub'),
      customerId: account.customerId ?? customerIdOf(account.tenantId),
      planId: plan.id,
      interval,
      currentPeriodStart: now,
      cancelAtPeriodEnd: false,
      seats,
    };
    if (plan.trialDays > 0) {
      const trialEnd = new Date(now.getTime() + plan.trialDays * DAY_MS);
      return {
        url: request.successUrl,
        changes: { subscription: { ...base, status: 'trialing', currentPeriodEnd: trialEnd, trialEnd } },
      };
    }
    const end = addInterval(now, interval, this.terms.periodSeconds);
    const count = await this.read(account.tenantId, (em) => invoiceCount(em, account.tenantId));
    const first = issueInvoice({
      tenantId: account.tenantId,
      subscriptionId: base.subscriptionId,
      currency: plan.currency,
      invoiceCount: count,
      lines: advanceLines(plan, interval, now, end, seats),
      periodStart: now,
      periodEnd: end,
      now,
      dueSeconds: this.terms.dueSeconds,
    });
    return {
      url: request.successUrl,
      changes: {
        subscription: { ...base, status: 'active', currentPeriodEnd: end, trialEnd: null },
        invoices: [first],
      },
    };
  }

  /** No portal: invoices are shown by the API itself. */
  async portalUrl(): Promise<string | null> {
    return null;
  }

  /**
   * The subscription keeps its period and moves to the new plan now. Outside a trial, the change is prorated
   * (see `prorationLine`) and, when something is owed, invoiced at once with net terms.
   */
  async changePlan(
    account: BillingAccountRecord,
    plan: PlanRecord,
    interval: BillingInterval,
  ): Promise<BillingChanges> {
    const subscription = snapshotOf(account, { planId: plan.id, interval });
    const { currentPeriodStart: start, currentPeriodEnd: end } = account;
    // A trial is free whatever the plan: nothing to prorate.
    if (account.status === 'trialing' || !start || !end || !account.planId) return { subscription };
    const now = new Date();
    const tenantId = account.tenantId;
    const { from, count } = await this.read(tenantId, async (em) => ({
      from: await loadPlan(em, account.planId!),
      count: await invoiceCount(em, tenantId),
    }));
    const proration = prorationLine({
      from,
      fromInterval: account.interval ?? interval,
      to: plan,
      toInterval: interval,
      seats: account.seats,
      periodStart: start,
      periodEnd: end,
      now,
      periodSeconds: this.terms.periodSeconds,
    });
    if (!proration) return { subscription };
    const invoice = issueInvoice({
      tenantId,
      subscriptionId: subscription.subscriptionId,
      currency: plan.currency,
      invoiceCount: count,
      lines: [proration],
      periodStart: now,
      periodEnd: end,
      now,
      dueSeconds: this.terms.dueSeconds,
    });
    return { subscription, invoices: [invoice] };
  }

  async setCancelAtPeriodEnd(account: BillingAccountRecord, cancel: boolean): Promise<BillingChanges> {
    return { subscription: snapshotOf(account, { cancelAtPeriodEnd: cancel }) };
  }

  /** Seats are charged in advance: the new count is charged from the next period (no proration). */
  async setSeats(account: BillingAccountRecord, seats: number): Promise<BillingChanges> {
    return { subscription: snapshotOf(account, { seats }) };
  }

  async invoices(account: BillingAccountRecord): Promise<InvoiceSnapshot[]> {
    return this.read(account.tenantId, (em) => loadInvoices(em, account.tenantId));
  }

  /**
   * The stored invoice (the built-in invoicer's record is the row itself). `em`: read in the caller's transaction
   * (one that is open already, e.g. a dunning job's) instead of a transaction of its own.
   */
  async invoice(account: BillingAccountRecord, invoiceId: string, em?: EntityManager): Promise<InvoiceSnapshot | null> {
    if (em) return loadInvoice(em, account.tenantId, invoiceId);
    return this.read(account.tenantId, (tx) => loadInvoice(tx, account.tenantId, invoiceId));
  }

  /**
   * What the end of the current period would invoice if it ended now: usage so far, and the flat and seat prices
   * of the next period for the members now (the real invoice counts usage and members when the period ends).
   * Not stored; `invoiceId` 'upcoming', a draft. Null without a running subscription.
   */
  async upcomingInvoice(account: BillingAccountRecord): Promise<InvoiceSnapshot | null> {
    if (!account.subscriptionId || !RUNNING.includes(account.status)) return null;
    const start = account.currentPeriodStart;
    const end = account.currentPeriodEnd;
    if (!start || !end) return null;
    const now = new Date();
    const usageEnd = now.getTime() < end.getTime() ? now : end;
    const facts = await this.read(account.tenantId, (em) => periodFacts(em, account, usageEnd, now));
    if (!facts) return null;
    const nextEnd = addInterval(end, account.interval ?? 'month', this.terms.periodSeconds);
    return issueInvoice({
      tenantId: account.tenantId,
      subscriptionId: account.subscriptionId,
      currency: facts.plan.currency,
      invoiceCount: facts.invoiceCount,
      lines: closingLines(facts, usageEnd, nextEnd),
      periodStart: start,
      periodEnd: end,
      now,
      dueSeconds: this.terms.dueSeconds,
      preview: true,
    });
  }

  /**
   * An operator records a payment received outside the platform: the open invoice becomes paid in full. When the
   * subscription was past due and no other invoice is overdue, it is back in good order (active, or trialing).
   */
  async markInvoicePaid(account: BillingAccountRecord, invoiceId: string): Promise<BillingChanges> {
    const now = new Date();
    const tenantId = account.tenantId;
    const { stored, othersOverdue } = await this.read(tenantId, async (em) => ({
      stored: await loadInvoice(em, tenantId, invoiceId),
      othersOverdue: await hasOverdueInvoice(em, tenantId, now, invoiceId),
    }));
    if (!stored) throw commerceError(CommerceErrorCode.INVOICE_NOT_FOUND);
    if (stored.status !== 'open') throw commerceError(CommerceErrorCode.INVOICE_NOT_OPEN);
    const changes: BillingChanges = {
      invoices: [{ ...stored, status: 'paid', amountPaid: stored.total, paidAt: now }],
    };
    const behind = account.status === 'past_due' || account.status === 'unpaid';
    if (behind && account.subscriptionId && !othersOverdue) {
      const trialing = account.trialEnd !== null && account.trialEnd.getTime() > now.getTime();
      changes.subscription = snapshotOf(account, { status: trialing ? 'trialing' : 'active' });
    }
    return changes;
  }

  /**
   * After a report is stored (same transaction): when a running subscription has a new current period, schedule
   * the job that ends it. The job's key names the period: a job cannot reschedule its own row (the runner marks
   * that row done after the handler), and a job for a period that is no longer current does nothing.
   */
  async onApplied(em: EntityManager, account: BillingAccountRecord, before: BillingAccountRecord): Promise<void> {
    const end = account.currentPeriodEnd;
    if (account.provider !== 'builtin' || !end || !RUNNING.includes(account.status)) return;
    const unchanged =
      before.currentPeriodEnd?.getTime() === end.getTime() &&
      before.subscriptionId === account.subscriptionId &&
      RUNNING.includes(before.status);
    if (unchanged) return;
    const periodEnd = end.toISOString();
    await scheduleJob(em, 'commerce', {
      name: 'billing-period-end',
      key: `billing-period-end:${account.tenantId}:${periodEnd}`,
      // A little after the end: usage of the last hour reaches commerce once gateways flush it and tenancy reports it.
      runAt: new Date(end.getTime() + USAGE_SETTLE_MS),
      payload: { tenantId: account.tenantId, periodEnd },
    });
  }
}
