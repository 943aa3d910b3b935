import { randomBytes } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { Config } from '../../../../kernel/config';
import type { BillingStatus } from '../../../../kernel/contracts/events';
import type { JobPayload } from '../../../../kernel/contracts/jobs';
import { enterTenantScope, leaveTenantScope } from '../../../../kernel/db/tenant-scope';
import type { SubgraphDeps } from '../../../../kernel/subgraph';
import { CommerceErrorCode, commerceError } from '../../commerce.errors';
import type {
  BillingAccountRecord,
  BillingChanges,
  BillingInterval,
  InvoiceLineSnapshot,
  InvoiceSnapshot,
  PlanPrice,
  PlanRecord,
  SubscriptionSnapshot,
} from '../billing.model';
import type { BillingState } from '../billing.service';
import { loadAccount, loadInvoices, loadPlan, memberCount, meteredTotals } from '../billing.store';
import { addInterval, amountFor, sumAmounts } from '../pricing';

/**
 * The built-in invoicer's billing cycle: which lines an invoice has, how a period ends, and the job that ends it.
 *
 * Flat and seat prices are charged in advance, for the period that starts; metered prices in arrears, for the
 * period that ended, from the usage tenancy counted (`commerce.metered_usage`). The billing account row and
 * `commerce.invoices` are the only records: everything here reads them and returns snapshots, which
 * `BillingState` stores.
 */

/** Statuses of a subscription that runs: its periods end and are invoiced. */
export const RUNNING: readonly BillingStatus[] = ['trialing', 'active', 'past_due', 'unpaid'];

/** The built-in invoicer's terms, from the `billing` config concern. */
export interface BuiltinTerms {
  /** Length of every period in seconds (demos and tests); null: calendar months or years. */
  periodSeconds: number | null;
  /** An issued invoice is due this long after it is issued. */
  dueSeconds: number;
}

export const termsOf = (billing: Config['billing']): BuiltinTerms => ({
  periodSeconds: billing.BILLING_PERIOD_SECONDS ?? null,
  dueSeconds: billing.BILLING_INVOICE_DUE_SECONDS,
});

/** A random provider id (`sub_…`, `in_…`): 24 hex digits after the prefix. */
export const randomId = (prefix: string): string => `${prefix}_${randomBytes(12).toString('hex')}`;

/** The built-in customer id of a tenant: derived from the tenant, so asking twice gives the same one. */
export const customerIdOf = (tenantId: string): string => `cust_${tenantId.replace(/-/g, '')}`;

/** `NEX-1A2B3C4D-0007`: the tenant's seventh invoice (the first 8 hex digits of the tenant id tell tenants apart). */
export const invoiceNumber = (tenantId: string, n: number): string =>
  `NEX-${tenantId.replace(/-/g, '').slice(0, 8).toUpperCase()}-${String(n).padStart(4, '0')}`;

const INTERVAL_LABEL: Record<BillingInterval, string> = { month: 'monthly', year: 'yearly' };

/** The plan's prices of one interval and kind. */
const pricesOf = (plan: PlanRecord, interval: BillingInterval, kind: PlanPrice['kind']) =>
  plan.prices.filter((p) => p.interval === interval && p.kind === kind);

/** A line for `quantity` units of `price` over [start, end). */
function line(
  price: PlanPrice,
  description: string,
  quantity: bigint,
  periodStart: Date,
  periodEnd: Date,
): InvoiceLineSnapshot {
  return {
    description,
    kind: price.kind,
    metric: price.metric,
    quantity: String(quantity),
    // One price per unit only without tiers (graduated tiers price units differently).
    unitAmount: price.tiers && price.tiers.length > 0 ? null : price.unitAmount,
    amount: String(amountFor(price, quantity)),
    periodStart,
    periodEnd,
  };
}

/** What is charged in advance for the period [start, end): the flat prices once, the seat prices per seat. */
export function advanceLines(
  plan: PlanRecord,
  interval: BillingInterval,
  start: Date,
  end: Date,
  seats: number,
): InvoiceLineSnapshot[] {
  return [
    ...pricesOf(plan, interval, 'flat').map((p) =>
      line(p, `${plan.name} (${INTERVAL_LABEL[interval]})`, 1n, start, end),
    ),
    ...pricesOf(plan, interval, 'seat').map((p) =>
      line(p, `${plan.name} seats (${INTERVAL_LABEL[interval]})`, BigInt(seats), start, end),
    ),
  ];
}

/** What is charged in arrears for usage in [start, end): one line per metered price, with the usage counted. */
export function meteredLines(
  plan: PlanRecord,
  interval: BillingInterval,
  start: Date,
  end: Date,
  usage: Record<string, bigint>,
): InvoiceLineSnapshot[] {
  return pricesOf(plan, interval, 'metered')
    .filter((p) => p.metric !== null)
    .map((p) => line(p, `${plan.name}: ${p.metric} used`, usage[p.metric!] ?? 0n, start, end));
}

/** Everything the flat and seat prices of a plan cost for one whole period (what a plan change prorates). */
export function advanceTotal(plan: PlanRecord, interval: BillingInterval, seats: number): bigint {
  return sumAmounts(advanceLines(plan, interval, new Date(0), new Date(0), seats).map((l) => l.amount));
}

/**
 * An invoice of `lines` as the built-in invoicer issues it: open and due after the net terms, or paid at once
 * when nothing is owed (no dunning for a zero total). `preview` gives the upcoming invoice: a draft, not numbered.
 */
export function issueInvoice(args: {
  tenantId: string;
  subscriptionId: string;
  currency: string;
  /** How many invoices the tenant has already (the new one is numbered after them). */
  invoiceCount: number;
  lines: InvoiceLineSnapshot[];
  periodStart: Date;
  periodEnd: Date;
  now: Date;
  dueSeconds: number;
  preview?: boolean;
}): InvoiceSnapshot {
  const total = String(sumAmounts(args.lines.map((l) => l.amount)));
  const settled = total === '0' && !args.preview;
  return {
    invoiceId: args.preview ? 'upcoming' : randomId('in'),
    subscriptionId: args.subscriptionId,
    number: args.preview ? null : invoiceNumber(args.tenantId, args.invoiceCount + 1),
    status: args.preview ? 'draft' : settled ? 'paid' : 'open',
    currency: args.currency,
    subtotal: total,
    total,
    amountDue: total,
    amountPaid: '0',
    periodStart: args.periodStart,
    periodEnd: args.periodEnd,
    dueAt: args.preview || settled ? null : new Date(args.now.getTime() + args.dueSeconds * 1000),
    paidAt: settled ? args.now : null,
    hostedUrl: null,
    pdfUrl: null,
    attemptCount: 0,
    nextAttemptAt: null,
    lines: args.lines,
    createdAt: args.now,
  };
}

/** The account's subscription as a snapshot, with `patch` applied; refused when the account has none running. */
export function snapshotOf(
  account: BillingAccountRecord,
  patch: Partial<SubscriptionSnapshot> = {},
): SubscriptionSnapshot {
  if (!account.subscriptionId || !RUNNING.includes(account.status))
    throw commerceError(CommerceErrorCode.NO_SUBSCRIPTION);
  return {
    subscriptionId: account.subscriptionId,
    customerId: account.customerId ?? customerIdOf(account.tenantId),
    planId: account.planId,
    interval: account.interval,
    status: account.status,
    currentPeriodStart: account.currentPeriodStart,
    currentPeriodEnd: account.currentPeriodEnd,
    trialEnd: account.trialEnd,
    cancelAtPeriodEnd: account.cancelAtPeriodEnd,
    seats: account.seats,
    ...patch,
  };
}

/** What the end of the account's current period reads from the database. */
export interface PeriodFacts {
  account: BillingAccountRecord;
  plan: PlanRecord;
  /** Usage by metric from the period's start to `usageEnd` (the period's end, or now for a preview). */
  usage: Record<string, bigint>;
  /** Members now: the seats of the next period. */
  seats: number;
  invoiceCount: number;
  /** An earlier invoice is open past its due date. */
  overdue: boolean;
}

/**
 * The invoice that closes the current period: metered lines for it (none for a trial: a trial is free), and
 * unless the subscription ends with it, the flat and seat lines of the next period [periodEnd, nextEnd).
 */
export function closingLines(facts: PeriodFacts, usageEnd: Date, nextEnd: Date): InvoiceLineSnapshot[] {
  const { account, plan } = facts;
  const interval = account.interval ?? 'month';
  const start = account.currentPeriodStart!;
  const end = account.currentPeriodEnd!;
  return [
    ...(account.status === 'trialing' ? [] : meteredLines(plan, interval, start, usageEnd, facts.usage)),
    ...(account.cancelAtPeriodEnd ? [] : advanceLines(plan, interval, end, nextEnd, facts.seats)),
  ];
}

/** The end of a period with an invoice and the next period (or the end of the subscription), as provider changes. */
export function periodEndChanges(facts: PeriodFacts, terms: BuiltinTerms, now: Date): BillingChanges {
  const { account, plan } = facts;
  const start = account.currentPeriodStart!;
  const end = account.currentPeriodEnd!;
  const nextEnd = addInterval(end, account.interval ?? 'month', terms.periodSeconds);
  const invoice = issueInvoice({
    tenantId: account.tenantId,
    subscriptionId: account.subscriptionId!,
    currency: plan.currency,
    invoiceCount: facts.invoiceCount,
    lines: closingLines(facts, end, nextEnd),
    periodStart: start,
    periodEnd: end,
    now,
    dueSeconds: terms.dueSeconds,
  });
  if (account.cancelAtPeriodEnd) {
    // The subscription ends with its period: a last invoice only for usage of that period, when there was some.
    return {
      subscription: snapshotOf(account, { status: 'canceled' }),
      invoices: invoice.total === '0' ? [] : [invoice],
    };
  }
  // A trial that ends becomes active; an earlier invoice still unpaid past its due date makes it past due.
  return {
    subscription: snapshotOf(account, {
      status: facts.overdue ? 'past_due' : 'active',
      currentPeriodStart: end,
      currentPeriodEnd: nextEnd,
      seats: facts.seats,
    }),
    invoices: [invoice],
  };
}

/** How many invoices the tenant has (numbers count on from it). */
export async function invoiceCount(em: EntityManager, tenantId: string): Promise<number> {
  const [row]: { n: number }[] = await em.query(
    `SELECT count(*)::int AS n FROM commerce.invoices WHERE tenant_id = $1`,
    [tenantId],
  );
  return row?.n ?? 0;
}

/** Whether an open invoice (other than `except`) is past its due date at `now`. */
export async function hasOverdueInvoice(
  em: EntityManager,
  tenantId: string,
  now: Date,
  except: string | null = null,
): Promise<boolean> {
  const open = await loadInvoices(em, tenantId, { status: ['open'], first: 1000 });
  return open.some((i) => i.invoiceId !== except && i.dueAt !== null && i.dueAt.getTime() <= now.getTime());
}

/** Reads what closing the current period needs; usage is counted in [period start, usageEnd). */
export async function periodFacts(
  em: EntityManager,
  account: BillingAccountRecord,
  usageEnd: Date,
  now: Date,
): Promise<PeriodFacts | null> {
  const plan = account.planId ? await loadPlan(em, account.planId) : null;
  if (!plan || !account.currentPeriodStart) return null;
  const tenantId = account.tenantId;
  return {
    account,
    plan,
    usage: await meteredTotals(em, tenantId, account.currentPeriodStart, usageEnd),
    seats: await memberCount(em, tenantId),
    invoiceCount: await invoiceCount(em, tenantId),
    overdue: await hasOverdueInvoice(em, tenantId, now),
  };
}

/**
 * Job `billing-period-end` (in the job's transaction): the subscription's current period is over. Issues the
 * invoice that closes it and starts the next period, or ends the subscription when it was to cancel at the
 * period's end. A job for a period that is no longer the current one (the subscription changed since it was
 * scheduled, or the job already ran) does nothing.
 */
export async function endBuiltinPeriod(
  deps: SubgraphDeps,
  state: BillingState,
  em: EntityManager,
  payload: JobPayload<'billing-period-end'>,
): Promise<void> {
  const { tenantId } = payload;
  // The runner's transaction is the schema owner's: do the tenant's work as the runtime role, confined to the
  // tenant by row-level security, then hand the transaction back (the runner marks the job done as the owner).
  await enterTenantScope(em, tenantId);
  const account = await loadAccount(em, tenantId, 'builtin', true);
  const periodEnd = new Date(payload.periodEnd);
  const current =
    account.provider === 'builtin' &&
    account.subscriptionId !== null &&
    RUNNING.includes(account.status) &&
    account.currentPeriodEnd?.getTime() === periodEnd.getTime();
  if (current) {
    const now = new Date();
    const facts = await periodFacts(em, account, periodEnd, now);
    if (!facts) throw new Error(`billing period of tenant ${tenantId} cannot end: its plan or period is missing`);
    await state.applyIn(em, tenantId, periodEndChanges(facts, termsOf(deps.config.billing), now));
  }
  await leaveTenantScope(em);
}
