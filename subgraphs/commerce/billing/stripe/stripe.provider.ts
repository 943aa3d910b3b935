import Stripe from 'stripe';
import { AppError } from '../../../../kernel/errors';
import { logger } from '../../../../kernel/log';
import type { SubgraphDeps } from '../../../../kernel/subgraph';
import { CommerceErrorCode, commerceError } from '../../commerce.errors';
import type {
  BillingAccountRecord,
  BillingChanges,
  BillingInterval,
  BillingProvider,
  CheckoutRequest,
  InvoiceSnapshot,
  PlanPrice,
  PlanRecord,
} from '../billing.model';
import type { Adjustment } from '../billing.service';
import {
  disputeStatus,
  idOf,
  invoicePriceIds,
  invoiceSnapshot,
  invoiceSubscriptionId,
  priceInfo,
  seatItem,
  slotOf,
  subscriptionSnapshot,
  type PriceInfo,
} from './stripe.mapping';

const log = logger('commerce.billing.stripe');

/** Stripe's API version this code reads and writes (the SDK's own). */
export const STRIPE_API_VERSION = '2026-10-28.endive';

/** Stripe answers at most this many lookup keys per price listing. */
const LOOKUP_KEYS_PER_LIST = 10;

/** The name of the meter (and of its events) that counts a usage metric. */
export const meterEventName = (metric: string): string => `nexus_${metric}`;

/** The product that carries a plan's prices. */
export const productIdOf = (planId: string): string => `nexus_plan_${planId}`;

/** The SDK's host, port and protocol for `STRIPE_API_URL` (a local server speaking Stripe's protocol), if set. */
function endpoint(url: string | undefined): Pick<Stripe.StripeConfig, 'host' | 'port' | 'protocol'> {
  if (!url) return {};
  const u = new URL(url);
  const protocol = u.protocol === 'http:' ? 'http' : 'https';
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port || (protocol === 'http' ? 80 : 443),
    protocol,
  };
}

/** Stripe answered that the object does not exist. */
export function isMissing(err: unknown): boolean {
  return err instanceof Stripe.errors.StripeError && (err.statusCode === 404 || err.code === 'resource_missing');
}

/** A whole amount in minor units as the number Stripe's API takes (refused if it cannot be one exactly). */
function stripeAmount(minor: string): number {
  const n = Number(minor);
  if (!/^\d+$/.test(minor) || !Number.isSafeInteger(n))
    throw commerceError(CommerceErrorCode.INVALID_PLAN, `amount ${minor} cannot be charged through Stripe`);
  return n;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Billing through Stripe (Billing, Checkout, the customer portal, meters). Stripe holds the subscription; this class
 * only asks Stripe for changes and reads back what Stripe then has, as snapshots (`stripe.mapping.ts`). Every call
 * is made outside any database transaction; failures become PAYMENT_PROVIDER_ERROR without Stripe's raw message.
 *
 * Prices carry metadata `{planId, kind, metric}`; the provider remembers what each price id charges for (from plan
 * syncs and from every subscription it reads), so invoice lines, which name only the price id, get their kind.
 */
export class StripeProvider implements BillingProvider {
  readonly name = 'stripe' as const;
  /** The SDK client (the webhook hook verifies signatures with it). */
  readonly stripe: Stripe;
  private readonly prices = new Map<string, PriceInfo>();

  constructor(deps: SubgraphDeps) {
    const { STRIPE_SECRET_KEY, STRIPE_API_URL } = deps.config.billing;
    if (!STRIPE_SECRET_KEY) throw new Error('the Stripe provider needs STRIPE_SECRET_KEY');
    this.stripe = new Stripe(STRIPE_SECRET_KEY, {
      apiVersion: STRIPE_API_VERSION,
      maxNetworkRetries: 2,
      timeout: 10_000,
      appInfo: { name: 'nexus-platform' },
      ...endpoint(STRIPE_API_URL),
    });
  }

  /** Tells the provider what the prices of known plans charge for (e.g. at start-up, before any sync). */
  learnPlans(plans: PlanRecord[]): void {
    for (const plan of plans)
      for (const p of plan.prices) {
        const id = plan.providerPrices[p.key];
        if (id) this.prices.set(id, { kind: p.kind, metric: p.metric });
      }
  }

  // ----- catalogue -----

  async syncPlan(plan: PlanRecord): Promise<Record<string, string>> {
    return this.call('sync a plan', async () => {
      const product = productIdOf(plan.id);
      await this.syncProduct(plan, product);
      const meters = await this.meters([
        ...new Set(plan.prices.filter((p) => p.kind === 'metered' && p.metric).map((p) => p.metric!)),
      ]);
      const found = new Map<string, Stripe.Price>();
      for (const keys of chunks(
        plan.prices.map((p) => p.key),
        LOOKUP_KEYS_PER_LIST,
      )) {
        for await (const price of this.stripe.prices.list({ lookup_keys: keys, active: true, limit: 100 }))
          if (price.lookup_key) found.set(price.lookup_key, price);
      }
      const ids: Record<string, string> = {};
      for (const p of plan.prices) {
        const price =
          found.get(p.key) ??
          (await this.stripe.prices.create(this.priceParams(plan, product, p, meters), {
            idempotencyKey: `nexus-price-${p.key}`,
          }));
        ids[p.key] = price.id;
        this.prices.set(price.id, { kind: p.kind, metric: p.metric });
      }
      log.info({ planId: plan.id, created: plan.prices.length - found.size }, 'plan prices synced with Stripe');
      return ids;
    });
  }

  private async syncProduct(plan: PlanRecord, id: string): Promise<void> {
    const existing = await this.stripe.products.retrieve(id).catch((err: unknown) => {
      if (isMissing(err)) return null;
      throw err;
    });
    if (!existing) {
      try {
        await this.stripe.products.create({ id, name: plan.name, metadata: { planId: plan.id } });
        return;
      } catch (err) {
        // Created meanwhile by a concurrent sync: update it like an existing one.
        if (!(err instanceof Stripe.errors.StripeError && err.code === 'resource_already_exists')) throw err;
      }
    }
    if (existing?.name !== plan.name) await this.stripe.products.update(id, { name: plan.name });
  }

  /** The active meter of each metric (created if missing): metric → meter id. */
  private async meters(metrics: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (metrics.length === 0) return out;
    const byEvent = new Map<string, string>();
    for await (const m of this.stripe.billing.meters.list({ status: 'active', limit: 100 }))
      byEvent.set(m.event_name, m.id);
    for (const metric of metrics) {
      const eventName = meterEventName(metric);
      let id = byEvent.get(eventName);
      if (!id) {
        const meter = await this.stripe.billing.meters.create({
          display_name: `Nexus ${metric.replace(/_/g, ' ')}`,
          event_name: eventName,
          default_aggregation: { formula: 'sum' },
          customer_mapping: { type: 'by_id', event_payload_key: 'stripe_customer_id' },
          value_settings: { event_payload_key: 'value' },
        });
        id = meter.id;
        log.info({ metric, meterId: id }, 'Stripe meter created');
      }
      out.set(metric, id);
    }
    return out;
  }

  private priceParams(
    plan: PlanRecord,
    product: string,
    p: PlanPrice,
    meters: Map<string, string>,
  ): Stripe.PriceCreateParams {
    const common = {
      product,
      currency: plan.currency.toLowerCase(),
      lookup_key: p.key,
      metadata: { planId: plan.id, kind: p.kind, ...(p.metric ? { metric: p.metric } : {}) },
    };
    if (p.kind !== 'metered') {
      return {
        ...common,
        unit_amount: stripeAmount(p.unitAmount ?? ''),
        recurring: { interval: p.interval, usage_type: 'licensed' },
      };
    }
    const meter = meters.get(p.metric ?? '');
    if (!meter) throw commerceError(CommerceErrorCode.INVALID_PLAN, `no meter for metric ${p.metric}`);
    const recurring = { interval: p.interval, usage_type: 'metered' as const, meter };
    if (p.tiers && p.tiers.length > 0) {
      return {
        ...common,
        recurring,
        billing_scheme: 'tiered',
        tiers_mode: 'graduated',
        tiers: p.tiers.map((t) => ({
          up_to: t.upTo === null ? ('inf' as const) : t.upTo,
          unit_amount: stripeAmount(t.unitAmount),
          flat_amount: stripeAmount(t.flatAmount),
        })),
      };
    }
    return { ...common, recurring, unit_amount: stripeAmount(p.unitAmount ?? '') };
  }

  /** The plan's Stripe price ids by key (synced now if any is missing). */
  private async priceIds(plan: PlanRecord): Promise<Record<string, string>> {
    if (plan.prices.every((p) => plan.providerPrices[p.key])) return plan.providerPrices;
    return { ...plan.providerPrices, ...(await this.syncPlan(plan)) };
  }

  private pricesOf(plan: PlanRecord, interval: BillingInterval): PlanPrice[] {
    const prices = plan.prices.filter((p) => p.interval === interval);
    if (prices.length === 0) throw commerceError(CommerceErrorCode.INTERVAL_NOT_OFFERED);
    return prices;
  }

  // ----- customer, checkout, portal -----

  async ensureCustomer(account: BillingAccountRecord, tenantName: string | null): Promise<string> {
    if (account.customerId) return account.customerId;
    const customer = await this.call('create the customer', () =>
      this.stripe.customers.create(
        {
          ...(account.email ? { email: account.email } : {}),
          ...(tenantName ? { name: tenantName } : {}),
          metadata: { tenantId: account.tenantId },
        },
        { idempotencyKey: `nexus-customer-${account.tenantId}` },
      ),
    );
    log.info({ tenantId: account.tenantId, customerId: customer.id }, 'Stripe customer created');
    return customer.id;
  }

  async startCheckout(request: CheckoutRequest): Promise<{ url: string; changes: BillingChanges }> {
    const { account, plan, interval, seats } = request;
    const customer = this.customerOf(account);
    const prices = this.pricesOf(plan, interval);
    const ids = await this.priceIds(plan);
    const session = await this.call('start a checkout', () =>
      this.stripe.checkout.sessions.create({
        mode: 'subscription',
        customer,
        client_reference_id: account.tenantId,
        line_items: prices.map((p) =>
          p.kind === 'metered'
            ? { price: ids[p.key] }
            : { price: ids[p.key], quantity: p.kind === 'seat' ? Math.max(1, seats) : 1 },
        ),
        success_url: request.successUrl,
        cancel_url: request.cancelUrl,
        subscription_data: {
          metadata: { tenantId: account.tenantId, planId: plan.id, interval },
          ...(plan.trialDays > 0 ? { trial_period_days: plan.trialDays } : {}),
        },
      }),
    );
    if (!session.url) throw commerceError(CommerceErrorCode.PAYMENT_PROVIDER_ERROR, 'Stripe gave no checkout URL');
    // The subscription exists once the tenant completes the checkout; it arrives by webhook.
    return { url: session.url, changes: {} };
  }

  async portalUrl(account: BillingAccountRecord, returnUrl: string): Promise<string | null> {
    const customer = this.customerOf(account);
    const session = await this.call('open the customer portal', () =>
      this.stripe.billingPortal.sessions.create({ customer, return_url: returnUrl }),
    );
    return session.url;
  }

  // ----- subscription changes -----

  async changePlan(
    account: BillingAccountRecord,
    plan: PlanRecord,
    interval: BillingInterval,
  ): Promise<BillingChanges> {
    const prices = this.pricesOf(plan, interval);
    const ids = await this.priceIds(plan);
    const sub = await this.currentSubscription(account);
    const existing = new Map<string, Stripe.SubscriptionItem>();
    const unmatched: Stripe.SubscriptionItem[] = [];
    for (const item of sub.items.data) {
      const info = priceInfo(item.price) ?? this.prices.get(item.price.id);
      if (info && !existing.has(slotOf(info))) existing.set(slotOf(info), item);
      else unmatched.push(item);
    }
    const seats = seatItem(sub)?.quantity ?? Math.max(1, account.seats);
    const items: Stripe.SubscriptionUpdateParams.Item[] = [];
    for (const p of prices) {
      const slot = slotOf({ kind: p.kind, metric: p.metric });
      const current = existing.get(slot);
      existing.delete(slot);
      const quantity = p.kind === 'metered' ? {} : { quantity: p.kind === 'seat' ? seats : 1 };
      items.push({ ...(current ? { id: current.id } : {}), price: ids[p.key], ...quantity });
    }
    for (const item of [...existing.values(), ...unmatched]) items.push({ id: item.id, deleted: true });
    const updated = await this.call('change the plan', () =>
      this.stripe.subscriptions.update(sub.id, {
        items,
        proration_behavior: 'create_prorations',
        metadata: { planId: plan.id, interval },
      }),
    );
    return { subscription: this.snapshot(updated) };
  }

  async setCancelAtPeriodEnd(account: BillingAccountRecord, cancel: boolean): Promise<BillingChanges> {
    const id = this.subscriptionIdOf(account);
    const updated = await this.call(cancel ? 'cancel the subscription' : 'resume the subscription', () =>
      this.stripe.subscriptions.update(id, { cancel_at_period_end: cancel }),
    );
    return { subscription: this.snapshot(updated) };
  }

  async setSeats(account: BillingAccountRecord, seats: number): Promise<BillingChanges> {
    const sub = await this.currentSubscription(account);
    const item = seatItem(sub);
    const quantity = Math.max(0, Math.trunc(seats));
    // A plan without a seat price does not charge for members; an unchanged count changes nothing.
    if (!item || item.quantity === quantity) return { subscription: this.snapshot(sub) };
    const updated = await this.call('change the seats', () =>
      this.stripe.subscriptions.update(sub.id, {
        items: [{ id: item.id, quantity }],
        proration_behavior: 'create_prorations',
      }),
    );
    return { subscription: this.snapshot(updated) };
  }

  // ----- invoices -----

  async invoices(account: BillingAccountRecord): Promise<InvoiceSnapshot[]> {
    if (!account.customerId) return [];
    return this.customerInvoices(account.customerId, 100);
  }

  async upcomingInvoice(account: BillingAccountRecord): Promise<InvoiceSnapshot | null> {
    if (!account.customerId || !account.subscriptionId) return null;
    const { customerId, subscriptionId } = account;
    const preview = await this.call('preview the next invoice', () =>
      this.stripe.invoices.createPreview({ customer: customerId, subscription: subscriptionId }).catch((err) => {
        // A subscription that will not invoice again (canceled) has no upcoming invoice.
        if (err instanceof Stripe.errors.StripeError && (err.code === 'invoice_upcoming_none' || isMissing(err)))
          return null;
        throw err;
      }),
    );
    return preview ? (await this.mapInvoices([preview]))[0] : null;
  }

  async invoice(account: BillingAccountRecord, invoiceId: string): Promise<InvoiceSnapshot | null> {
    const inv = await this.ownInvoice(account, invoiceId);
    return inv ? (await this.mapInvoices([inv]))[0] : null;
  }

  async markInvoicePaid(account: BillingAccountRecord, invoiceId: string): Promise<BillingChanges> {
    const inv = await this.ownInvoice(account, invoiceId);
    if (!inv) throw commerceError(CommerceErrorCode.INVOICE_NOT_FOUND);
    if (inv.status !== 'open') throw commerceError(CommerceErrorCode.INVOICE_NOT_OPEN);
    const paid = await this.call('record the payment', () =>
      this.stripe.invoices.pay(invoiceId, { paid_out_of_band: true }),
    );
    return { invoices: await this.mapInvoices([paid]) };
  }

  /** The invoice if it is the account's customer's (another customer's invoice is as good as missing). */
  private async ownInvoice(account: BillingAccountRecord, invoiceId: string): Promise<Stripe.Invoice | null> {
    if (!account.customerId) return null;
    const inv = await this.retrieveOrNull('read an invoice', () => this.stripe.invoices.retrieve(invoiceId));
    return inv && idOf(inv.customer) === account.customerId ? inv : null;
  }

  // ----- reads for webhooks (current state, never the event's copy) -----

  /** The subscription as Stripe has it now (null: no such subscription). */
  async readSubscription(id: string): Promise<Stripe.Subscription | null> {
    const sub = await this.retrieveOrNull('read a subscription', () => this.stripe.subscriptions.retrieve(id));
    if (sub) this.learn(sub);
    return sub;
  }

  /** The snapshot of a subscription (learning its prices). */
  snapshot(sub: Stripe.Subscription, status?: Parameters<typeof subscriptionSnapshot>[1]) {
    this.learn(sub);
    return subscriptionSnapshot(sub, status);
  }

  /** The invoice as Stripe has it now, with its customer (null: no such invoice). */
  async readInvoice(id: string): Promise<{ customerId: string | null; invoice: InvoiceSnapshot } | null> {
    const inv = await this.retrieveOrNull('read an invoice', () => this.stripe.invoices.retrieve(id));
    if (!inv) return null;
    return { customerId: idOf(inv.customer), invoice: (await this.mapInvoices([inv]))[0] };
  }

  /** A customer's latest invoices, newest first. */
  async customerInvoices(customerId: string, limit: number): Promise<InvoiceSnapshot[]> {
    const list = await this.call('list invoices', () => this.stripe.invoices.list({ customer: customerId, limit }));
    return this.mapInvoices(list.data);
  }

  /** The customer and subscription a completed checkout created (null: not a subscription checkout). */
  async readCheckout(id: string): Promise<{ customerId: string; subscriptionId: string } | null> {
    const session = await this.retrieveOrNull('read a checkout', () => this.stripe.checkout.sessions.retrieve(id));
    const customerId = idOf(session?.customer);
    const subscriptionId = idOf(session?.subscription);
    return session?.mode === 'subscription' && customerId && subscriptionId ? { customerId, subscriptionId } : null;
  }

  /** A charge's refunds as adjustments, with the charge's customer (null: no such charge). */
  async readRefunds(chargeId: string): Promise<{ customerId: string | null; refunds: Adjustment[] } | null> {
    const charge = await this.retrieveOrNull('read a charge', () =>
      this.stripe.charges.retrieve(chargeId, { expand: ['refunds'] }),
    );
    if (!charge) return null;
    const refunds = charge.refunds?.data ?? [];
    const invoiceId = refunds.length ? await this.invoiceOfPayment(idOf(charge.payment_intent)) : null;
    return {
      customerId: idOf(charge.customer),
      refunds: refunds.map((r) => ({
        kind: 'refund',
        id: r.id,
        invoiceId,
        amount: String(r.amount),
        currency: r.currency.toUpperCase(),
        status: r.status ?? 'pending',
        reason: r.reason ?? null,
      })),
    };
  }

  /** A dispute as an adjustment, with the disputed charge's customer (null: no such dispute). */
  async readDispute(disputeId: string): Promise<{ customerId: string | null; dispute: Adjustment } | null> {
    const dispute = await this.retrieveOrNull('read a dispute', () => this.stripe.disputes.retrieve(disputeId));
    if (!dispute) return null;
    const chargeId = idOf(dispute.charge);
    const charge =
      typeof dispute.charge === 'object'
        ? dispute.charge
        : chargeId
          ? await this.retrieveOrNull('read a charge', () =>
              this.stripe.charges.retrieve(chargeId, { expand: ['refunds'] }),
            )
          : null;
    const invoiceId = await this.invoiceOfPayment(idOf(dispute.payment_intent) ?? idOf(charge?.payment_intent));
    return {
      customerId: idOf(charge?.customer),
      dispute: {
        kind: 'dispute',
        id: dispute.id,
        invoiceId,
        amount: String(dispute.amount),
        currency: dispute.currency.toUpperCase(),
        status: disputeStatus(dispute.status),
        reason: dispute.reason || null,
      },
    };
  }

  /** The invoice a payment intent paid (null: none, e.g. a payment outside billing). */
  private async invoiceOfPayment(paymentIntent: string | null): Promise<string | null> {
    if (!paymentIntent) return null;
    const list = await this.call('find the paid invoice', () =>
      this.stripe.invoicePayments.list({
        payment: { type: 'payment_intent', payment_intent: paymentIntent },
        limit: 1,
      }),
    );
    return idOf(list.data[0]?.invoice ?? null);
  }

  // ----- usage -----

  /**
   * Sends one meter event; `duplicate` when Stripe already has an event with this identifier (a retry of a report
   * whose outcome was lost), which counts as sent.
   */
  async sendMeterEvent(event: {
    metric: string;
    customerId: string;
    value: string;
    identifier: string;
    timestamp: number;
  }): Promise<'sent' | 'duplicate'> {
    try {
      await this.stripe.billing.meterEvents.create({
        event_name: meterEventName(event.metric),
        payload: { stripe_customer_id: event.customerId, value: event.value },
        identifier: event.identifier,
        timestamp: event.timestamp,
      });
      return 'sent';
    } catch (err) {
      if (isDuplicateMeterEvent(err)) return 'duplicate';
      throw this.failure('report usage', err);
    }
  }

  // ----- helpers -----

  private customerOf(account: BillingAccountRecord): string {
    if (!account.customerId)
      throw commerceError(CommerceErrorCode.NO_SUBSCRIPTION, 'The tenant has no billing customer yet');
    return account.customerId;
  }

  private subscriptionIdOf(account: BillingAccountRecord): string {
    if (!account.subscriptionId) throw commerceError(CommerceErrorCode.NO_SUBSCRIPTION);
    return account.subscriptionId;
  }

  private async currentSubscription(account: BillingAccountRecord): Promise<Stripe.Subscription> {
    const sub = await this.readSubscription(this.subscriptionIdOf(account));
    if (!sub || idOf(sub.customer) !== account.customerId) throw commerceError(CommerceErrorCode.NO_SUBSCRIPTION);
    return sub;
  }

  /** Remembers what the prices of a subscription's items charge for. */
  private learn(sub: Stripe.Subscription): void {
    for (const item of sub.items?.data ?? []) {
      const info = priceInfo(item.price);
      if (info) this.prices.set(item.price.id, info);
    }
  }

  /** Snapshots of invoices; prices not known yet are learnt from the invoices' subscriptions first. */
  private async mapInvoices(invoices: Stripe.Invoice[]): Promise<InvoiceSnapshot[]> {
    const unknown = new Set<string>();
    for (const inv of invoices) {
      for (const line of inv.lines?.data ?? []) {
        const price = line.pricing?.price_details?.price;
        const info = price && typeof price === 'object' ? priceInfo(price) : null;
        if (price && typeof price === 'object' && info) this.prices.set(price.id, info);
      }
      if (invoicePriceIds(inv).some((id) => !this.prices.has(id))) {
        const sub = invoiceSubscriptionId(inv);
        if (sub) unknown.add(sub);
      }
    }
    // A few reads at most (a tenant has one subscription at a time, a few over its history).
    for (const id of [...unknown].slice(0, 5)) await this.readSubscription(id);
    return invoices.map((inv) => invoiceSnapshot(inv, (id) => this.prices.get(id)));
  }

  private async retrieveOrNull<T>(what: string, fn: () => Promise<T>): Promise<T | null> {
    return this.call(what, () =>
      fn().catch((err: unknown) => {
        if (isMissing(err)) return null;
        throw err;
      }),
    );
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.failure(what, err);
    }
  }

  /** A failed Stripe call as a client-safe error: Stripe's code, never its message (nor the request's secrets). */
  private failure(what: string, err: unknown): AppError {
    if (err instanceof AppError) return err;
    if (err instanceof Stripe.errors.StripeError) {
      log.warn(
        { what, type: err.type, code: err.code, statusCode: err.statusCode, requestId: err.requestId },
        'Stripe call failed',
      );
      return commerceError(
        CommerceErrorCode.PAYMENT_PROVIDER_ERROR,
        `The payment provider could not ${what}${err.code ? ` (${err.code})` : ''}`,
      );
    }
    log.error({ what, err }, 'Stripe call failed unexpectedly');
    return commerceError(CommerceErrorCode.PAYMENT_PROVIDER_ERROR, `The payment provider could not ${what}`);
  }
}

/**
 * Stripe refuses a meter event whose identifier it has seen (within at least 24 hours): a 400 whose code or message
 * says so. Any such refusal means the usage was recorded by an earlier attempt.
 */
export function isDuplicateMeterEvent(err: unknown): boolean {
  if (!(err instanceof Stripe.errors.StripeError) || err.statusCode !== 400) return false;
  if (err.code === 'duplicate_meter_event' || err.code === 'resource_already_exists') return true;
  return (err.param === 'identifier' || /identifier/i.test(err.message)) && /already|duplicate/i.test(err.message);
}
