import type { EntityManager } from 'typeorm';
import type { BillingStatus } from '../../../kernel/contracts/events';

/**
 * What billing knows, independent of the provider that charges: plans (the platform's catalogue), and snapshots
 * of a tenant's subscription and invoices as the provider reports them. Providers (Stripe, or the built-in
 * invoicer) turn requests into snapshots; `BillingService.applyChanges` is the one place that stores them.
 */

export type BillingInterval = 'month' | 'year';
export const BILLING_INTERVALS: readonly BillingInterval[] = ['month', 'year'];

/** flat: a fixed amount per period; seat: per member of the tenant; metered: per unit of a usage metric used. */
export type PriceKind = 'flat' | 'seat' | 'metered';

/** Usage metrics a metered price can charge for (tenancy's hourly meters; members are charged as seats). */
export const METERED_METRICS = ['api_calls', 'messages', 'llm_tokens', 'storage_bytes'] as const;
export type MeteredMetric = (typeof METERED_METRICS)[number];

/** Graduated tier: units up to `upTo` (inclusive; null = the rest) cost `unitAmount` each, plus `flatAmount` once. */
export interface PriceTier {
  upTo: number | null;
  unitAmount: string;
  flatAmount: string;
}

export interface PlanPrice {
  /** Stable name of this price in the provider (Stripe `lookup_key`); changes whenever its terms change. */
  key: string;
  interval: BillingInterval;
  kind: PriceKind;
  metric: MeteredMetric | null;
  /** Per period (flat), per seat (seat) or per unit (metered without tiers). */
  unitAmount: string | null;
  tiers: PriceTier[] | null;
}

export interface PlanRecord {
  id: string;
  name: string;
  description: string | null;
  currency: string;
  trialDays: number;
  /** Modules tenancy installs while the tenant is subscribed. */
  modules: string[];
  /** Quota limits tenancy sets while the tenant is subscribed, by usage metric. */
  limits: Record<string, number>;
  prices: PlanPrice[];
  active: boolean;
  /** Price key → the provider's price id, once synced. */
  providerPrices: Record<string, string>;
}

/** A tenant's billing account as stored (the mirror of the provider's customer and subscription). */
export interface BillingAccountRecord {
  tenantId: string;
  version: number;
  provider: 'stripe' | 'builtin';
  customerId: string | null;
  email: string | null;
  planId: string | null;
  interval: BillingInterval | null;
  status: BillingStatus;
  subscriptionId: string | null;
  currentPeriodStart: Date | null;
  currentPeriodEnd: Date | null;
  trialEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  seats: number;
  delinquent: boolean;
  dunningInvoiceId: string | null;
  dunningStartedAt: Date | null;
}

export interface SubscriptionSnapshot {
  subscriptionId: string;
  customerId: string;
  /** The plan and interval, from the subscription's metadata (Stripe) or the built-in record. */
  planId: string | null;
  interval: BillingInterval | null;
  status: BillingStatus;
  currentPeriodStart: Date | null;
  currentPeriodEnd: Date | null;
  trialEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  seats: number;
}

export type InvoiceStatus = 'draft' | 'open' | 'paid' | 'void' | 'uncollectible';

export interface InvoiceLineSnapshot {
  description: string;
  kind: PriceKind | 'proration' | 'other';
  metric: string | null;
  quantity: string;
  /** Per unit, when the line has one price per unit. */
  unitAmount: string | null;
  /** Minor units; negative for a credit (the unused part of a plan after a change). */
  amount: string;
  periodStart: Date;
  periodEnd: Date;
}

export interface InvoiceSnapshot {
  invoiceId: string;
  subscriptionId: string | null;
  number: string | null;
  status: InvoiceStatus;
  currency: string;
  subtotal: string;
  total: string;
  amountDue: string;
  amountPaid: string;
  periodStart: Date;
  periodEnd: Date;
  dueAt: Date | null;
  paidAt: Date | null;
  hostedUrl: string | null;
  pdfUrl: string | null;
  /** Payment attempts made (Stripe); a failed attempt on an open invoice starts dunning. */
  attemptCount: number;
  nextAttemptAt: Date | null;
  lines: InvoiceLineSnapshot[];
  createdAt: Date;
}

/** What a provider call changed: stored by `BillingService.applyChanges` in one transaction. */
export interface BillingChanges {
  subscription?: SubscriptionSnapshot | null;
  invoices?: InvoiceSnapshot[];
}

export interface CheckoutRequest {
  account: BillingAccountRecord;
  plan: PlanRecord;
  interval: BillingInterval;
  seats: number;
  successUrl: string;
  cancelUrl: string;
}

/** A charge for one payment provider. Every method runs outside any database transaction. */
export interface BillingProvider {
  readonly name: 'stripe' | 'builtin';
  /** Creates what the provider needs for a plan (products, prices, meters) if missing; price key → provider id. */
  syncPlan(plan: PlanRecord): Promise<Record<string, string>>;
  /** The provider's customer for a tenant (created the first time, idempotently). */
  ensureCustomer(account: BillingAccountRecord, tenantName: string | null): Promise<string>;
  /** Where the tenant confirms the subscription, and what changed already (the built-in starts it at once). */
  startCheckout(request: CheckoutRequest): Promise<{ url: string; changes: BillingChanges }>;
  /** A page where the tenant manages payment methods and sees invoices (null: the provider has none). */
  portalUrl(account: BillingAccountRecord, returnUrl: string): Promise<string | null>;
  changePlan(account: BillingAccountRecord, plan: PlanRecord, interval: BillingInterval): Promise<BillingChanges>;
  setCancelAtPeriodEnd(account: BillingAccountRecord, cancel: boolean): Promise<BillingChanges>;
  setSeats(account: BillingAccountRecord, seats: number): Promise<BillingChanges>;
  /** The tenant's invoices as the provider has them now (newest first). */
  invoices(account: BillingAccountRecord): Promise<InvoiceSnapshot[]>;
  /** The next invoice if the period ended now (null: no subscription). */
  upcomingInvoice(account: BillingAccountRecord): Promise<InvoiceSnapshot | null>;
  /** The invoice as the provider has it now (`em`: the caller's open transaction, for providers that read the database). */
  invoice(account: BillingAccountRecord, invoiceId: string, em?: EntityManager): Promise<InvoiceSnapshot | null>;
  /** An operator records a payment made outside the provider (bank transfer). */
  markInvoicePaid(account: BillingAccountRecord, invoiceId: string): Promise<BillingChanges>;
  /** Runs in the transaction that stored a report, after it (e.g. the built-in invoicer schedules its period end). */
  onApplied?(em: EntityManager, account: BillingAccountRecord, before: BillingAccountRecord): Promise<void>;
}
