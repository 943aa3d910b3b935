import type Stripe from 'stripe';
import type { BillingStatus } from '../../../../kernel/contracts/events';
import {
  BILLING_INTERVALS,
  type BillingInterval,
  type InvoiceLineSnapshot,
  type InvoiceSnapshot,
  type InvoiceStatus,
  type PriceKind,
  type SubscriptionSnapshot,
} from '../billing.model';

/**
 * Stripe's objects as billing's snapshots. Pure functions: what a price is (flat, seat, metered) comes from the
 * price's metadata, which `StripeProvider.syncPlan` writes, or from a table of prices the provider learnt.
 */

/** What one of our prices charges for, as its metadata says. */
export interface PriceInfo {
  kind: PriceKind;
  metric: string | null;
}

/** Price id → what it charges for; unknown prices (not ours, or not seen yet) give undefined. */
export type PriceLookup = (priceId: string) => PriceInfo | undefined;

const KINDS: readonly PriceKind[] = ['flat', 'seat', 'metered'];

/** Our metadata on a price (`kind`, `metric`), or null for a price that is not one of the platform's. */
export function priceInfo(price: Pick<Stripe.Price, 'metadata'>): PriceInfo | null {
  const kind = price.metadata?.kind as PriceKind | undefined;
  if (!kind || !KINDS.includes(kind)) return null;
  return { kind, metric: price.metadata.metric || null };
}

/** The slot a price fills in a plan: one price per kind (and metric, for metered prices) and interval. */
export function slotOf(info: PriceInfo): string {
  return `${info.kind}:${info.metric ?? ''}`;
}

export const idOf = (v: string | { id: string } | null | undefined): string | null =>
  v == null ? null : typeof v === 'string' ? v : v.id;

const date = (seconds: number | null | undefined): Date | null =>
  seconds === null || seconds === undefined ? null : new Date(seconds * 1000);

/**
 * Stripe's subscription status as billing's:
 * - `active`, `trialing`, `past_due`, `unpaid`, `canceled`, `incomplete`: the same;
 * - `incomplete_expired` (the first payment never succeeded, Stripe gave up): `canceled`;
 * - `paused` (a trial ended without a payment method, or an operator paused collection): `incomplete` — nothing is
 *   invoiced while paused, so keeping the plan's grant (as `past_due` would) would give it away; it is granted
 *   again once Stripe resumes the subscription (`active`);
 * - anything newer Stripe may add: `incomplete` (no grant until understood).
 */
export function billingStatus(status: Stripe.Subscription.Status): BillingStatus {
  switch (status) {
    case 'active':
    case 'trialing':
    case 'past_due':
    case 'unpaid':
    case 'canceled':
    case 'incomplete':
      return status as BillingStatus;
    case 'incomplete_expired':
      return 'canceled';
    default:
      return 'incomplete';
  }
}

/** The item of a subscription that charges for seats (null: the plan has no seat price). */
export function seatItem(sub: Stripe.Subscription): Stripe.SubscriptionItem | null {
  return sub.items.data.find((i) => priceInfo(i.price)?.kind === 'seat') ?? null;
}

/**
 * The subscription as billing mirrors it. Since API 2025-03 periods belong to items: the current period is the
 * one of the item that renews first (all items of one plan share an interval, so they normally agree).
 */
export function subscriptionSnapshot(sub: Stripe.Subscription, status?: BillingStatus): SubscriptionSnapshot {
  const items = sub.items?.data ?? [];
  const first = items.reduce<Stripe.SubscriptionItem | null>(
    (best, i) => (!best || i.current_period_end < best.current_period_end ? i : best),
    null,
  );
  const interval = sub.metadata?.interval as BillingInterval | undefined;
  return {
    subscriptionId: sub.id,
    customerId: idOf(sub.customer)!,
    planId: sub.metadata?.planId || null,
    interval: interval && BILLING_INTERVALS.includes(interval) ? interval : null,
    status: status ?? billingStatus(sub.status),
    currentPeriodStart: date(first?.current_period_start),
    currentPeriodEnd: date(first?.current_period_end),
    trialEnd: date(sub.trial_end),
    // The portal may schedule the end as `cancel_at` rather than `cancel_at_period_end`: either way it does not renew.
    cancelAtPeriodEnd: sub.cancel_at_period_end || (sub.cancel_at != null && sub.status !== 'canceled'),
    seats: seatItem(sub)?.quantity ?? 0,
  };
}

const INVOICE_STATUSES: readonly InvoiceStatus[] = ['draft', 'open', 'paid', 'void', 'uncollectible'];

/** A non-negative amount as a string of digits (invoice totals below zero, a credit, are stored as 0). */
const digits = (minor: number | null | undefined): string => String(Math.max(0, Math.trunc(minor ?? 0)));

/** The subscription an invoice bills (API 2025-03+: through `parent.subscription_details`). */
export function invoiceSubscriptionId(inv: Stripe.Invoice): string | null {
  return idOf(inv.parent?.subscription_details?.subscription ?? null);
}

/** The price ids an invoice's lines charge (to learn the unknown ones before mapping). */
export function invoicePriceIds(inv: Stripe.Invoice): string[] {
  return (inv.lines?.data ?? [])
    .map((l) => idOf(l.pricing?.price_details?.price ?? null))
    .filter((id): id is string => id !== null);
}

function lineSnapshot(line: Stripe.InvoiceLineItem, lookup: PriceLookup): InvoiceLineSnapshot {
  const price = line.pricing?.price_details?.price ?? null;
  const info =
    price === null ? undefined : typeof price === 'string' ? lookup(price) : (priceInfo(price) ?? lookup(price.id));
  const proration =
    line.parent?.subscription_item_details?.proration === true || line.parent?.invoice_item_details?.proration === true;
  const unit = line.pricing?.unit_amount_decimal == null ? null : String(line.pricing.unit_amount_decimal);
  return {
    description: line.description ?? '',
    kind: proration ? 'proration' : (info?.kind ?? 'other'),
    metric: info?.metric ?? null,
    quantity: String(line.quantity ?? 1),
    unitAmount: unit !== null && /^\d+(\.0*)?$/.test(unit) ? unit.split('.')[0] : null,
    // A line may be negative (a proration credit); invoice totals are not.
    amount: String(Math.trunc(line.amount)),
    periodStart: new Date(line.period.start * 1000),
    periodEnd: new Date(line.period.end * 1000),
  };
}

/** The invoice as billing mirrors it: amounts as digit strings, currency upper-case, lines with their kind. */
export function invoiceSnapshot(inv: Stripe.Invoice, lookup: PriceLookup): InvoiceSnapshot {
  const status = (inv.status ?? 'draft') as InvoiceStatus;
  return {
    invoiceId: inv.id,
    subscriptionId: invoiceSubscriptionId(inv),
    number: inv.number ?? null,
    status: INVOICE_STATUSES.includes(status) ? status : 'draft',
    currency: inv.currency.toUpperCase(),
    subtotal: digits(inv.subtotal),
    total: digits(inv.total),
    amountDue: digits(inv.amount_due),
    amountPaid: digits(inv.amount_paid),
    periodStart: new Date(inv.period_start * 1000),
    periodEnd: new Date(inv.period_end * 1000),
    dueAt: date(inv.due_date),
    paidAt: date(inv.status_transitions?.paid_at),
    hostedUrl: inv.hosted_invoice_url ?? null,
    pdfUrl: inv.invoice_pdf ?? null,
    attemptCount: inv.attempt_count ?? 0,
    nextAttemptAt: date(inv.next_payment_attempt),
    lines: (inv.lines?.data ?? []).map((l) => lineSnapshot(l, lookup)),
    createdAt: new Date(inv.created * 1000),
  };
}

/**
 * A dispute's status as billing's adjustment status: `won`/`lost` once decided; an inquiry closed without a
 * dispute (`warning_closed`) or a dispute prevented (Stripe refunds instead, reported as a refund) counts as
 * `won` — the money stays — so a ledger that moved it out on `open` moves it back; everything else is `open`.
 */
export function disputeStatus(status: Stripe.Dispute.Status): 'open' | 'won' | 'lost' {
  if (status === 'lost') return 'lost';
  if (status === 'won' || status === 'warning_closed' || status === 'prevented') return 'won';
  return 'open';
}
