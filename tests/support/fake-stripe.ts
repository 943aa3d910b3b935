/**
 * A local Stripe peer for tests: an in-process HTTP server that speaks Stripe's REST protocol (form-encoded
 * requests with bracket notation, JSON answers with Stripe's field names, list envelopes, error bodies and
 * status codes, Idempotency-Key replays) for the endpoints the Stripe billing provider calls, so the real
 * `stripe` SDK works against it. Time-dependent billing (period ends, payment attempts, refunds, disputes) is
 * driven by test controls; every state change becomes a Stripe Event, delivered signed to a webhook endpoint.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

const API_VERSION = '2026-10-28.endive';
const DAY = 86_400;
/** Smart Retries: the next attempt after a failure, and how many attempts before Stripe stops retrying. */
const RETRY_DELAY = 3 * DAY;
const MAX_ATTEMPTS = 4;

// ---------------------------------------------------------------------------------------------------- shapes

type List<T> = { object: 'list'; data: T[]; has_more: boolean; url: string };
/** The fields of a Stripe type this peer emits, with some replaced (ids instead of expandable objects, decimals as strings). */
type Shape<T, K extends keyof T, O = object> = Omit<Pick<T, K>, keyof O> & O;

/** Fields every object here carries. */
type Base = 'id' | 'object' | 'created' | 'livemode';
type Tier = Omit<NonNullable<Stripe.Price['tiers']>[number], 'flat_amount_decimal' | 'unit_amount_decimal'> & {
  flat_amount_decimal: string | null;
  unit_amount_decimal: string | null;
};
type ProductKeys = Base | 'active' | 'updated' | 'name' | 'description' | 'metadata' | 'images' | 'url';
export type FakeProduct = Pick<Stripe.Product, ProductKeys>;
type PriceKeys = Base | 'active' | 'billing_scheme' | 'currency' | 'lookup_key' | 'metadata' | 'nickname' | 'recurring';
export type FakePrice = Shape<
  Stripe.Price,
  PriceKeys | 'tiers_mode' | 'type' | 'unit_amount',
  { product: string; tiers?: Tier[]; unit_amount_decimal: string | null }
>;
export type FakeMeter = Stripe.Billing.Meter;
export type FakeMeterEvent = Stripe.Billing.MeterEvent;
type CustomerKeys = Base | 'balance' | 'email' | 'name' | 'description' | 'metadata' | 'invoice_prefix';
export type FakeCustomer = Pick<Stripe.Customer, CustomerKeys>;
type CheckoutKeys = Base | 'amount_subtotal' | 'amount_total' | 'cancel_url' | 'client_reference_id' | 'currency';
type CheckoutMoreKeys = 'customer_email' | 'expires_at' | 'invoice' | 'metadata' | 'mode' | 'payment_status' | 'status';
export type FakeCheckoutSession = Shape<
  Stripe.Checkout.Session,
  CheckoutKeys | CheckoutMoreKeys | 'success_url' | 'url',
  { customer: string | null; subscription: string | null }
>;
export type FakePortalSession = Stripe.BillingPortal.Session;
type ItemKeys =
  | Exclude<Base, 'livemode'>
  | 'billing_thresholds'
  | 'current_period_end'
  | 'current_period_start'
  | 'discounts'
  | 'metadata';
export type FakeSubscriptionItem = Shape<
  Stripe.SubscriptionItem,
  ItemKeys | 'quantity' | 'subscription' | 'tax_rates',
  { price: FakePrice }
>;
type SubscriptionKeys = Base | 'billing_cycle_anchor' | 'cancel_at' | 'cancel_at_period_end' | 'canceled_at';
type SubscriptionMoreKeys = 'cancellation_details' | 'collection_method' | 'currency' | 'description' | 'discounts';
type SubscriptionLastKeys = 'ended_at' | 'metadata' | 'start_date' | 'status' | 'trial_end' | 'trial_start';
export type FakeSubscription = Shape<
  Stripe.Subscription,
  SubscriptionKeys | SubscriptionMoreKeys | SubscriptionLastKeys,
  { customer: string; default_payment_method: string; items: List<FakeSubscriptionItem>; latest_invoice: string | null }
>;
export type FakeInvoiceLine = Omit<Stripe.InvoiceLineItem, 'quantity_decimal' | 'pricing' | 'subscription'> & {
  pricing: {
    type: 'price_details';
    price_details: { price: string; product: string };
    unit_amount_decimal: string | null;
  };
  subscription: string | null;
};
type InvoiceAmountKeys =
  'amount_due' | 'amount_overpaid' | 'amount_paid' | 'amount_paid_off_stripe' | 'amount_remaining';
type InvoiceTotalKeys = 'subtotal' | 'total' | 'starting_balance' | 'ending_balance' | 'currency';
type InvoiceCollectionKeys =
  'attempt_count' | 'attempted' | 'auto_advance' | 'collection_method' | 'next_payment_attempt';
type InvoiceStateKeys = 'billing_reason' | 'status' | 'status_transitions' | 'number' | 'effective_at' | 'due_date';
type InvoiceOtherKeys = 'customer_email' | 'customer_name' | 'description' | 'hosted_invoice_url' | 'invoice_pdf';
type InvoicePeriodKeys = 'metadata' | 'parent' | 'period_end' | 'period_start';
export type FakeInvoice = Shape<
  Stripe.Invoice,
  | Base
  | InvoiceAmountKeys
  | InvoiceTotalKeys
  | InvoiceCollectionKeys
  | InvoiceStateKeys
  | InvoiceOtherKeys
  | InvoicePeriodKeys,
  { customer: string; lines: List<FakeInvoiceLine> }
>;
export type FakeInvoicePayment = Stripe.InvoicePayment;
type IntentKeys = 'amount' | 'amount_received' | 'customer' | 'description' | 'latest_charge' | 'payment_method';
export type FakePaymentIntent = Pick<Stripe.PaymentIntent, Base | IntentKeys | 'currency' | 'metadata' | 'status'>;
type RefundKeys = 'amount' | 'charge' | 'currency' | 'metadata' | 'payment_intent' | 'reason' | 'status';
export type FakeRefund = Pick<Stripe.Refund, Exclude<Base, 'livemode'> | RefundKeys>;
type ChargeAmountKeys = 'amount' | 'amount_captured' | 'amount_refunded' | 'captured' | 'currency' | 'customer';
type ChargeStateKeys = 'description' | 'disputed' | 'failure_code' | 'failure_message' | 'metadata' | 'paid';
type ChargeLinkKeys = 'payment_intent' | 'payment_method' | 'refunded' | 'status';
export type FakeCharge = Shape<
  Stripe.Charge,
  Base | ChargeAmountKeys | ChargeStateKeys | ChargeLinkKeys,
  { refunds?: List<FakeRefund> }
>;
type DisputeKeys = 'amount' | 'balance_transactions' | 'charge' | 'currency' | 'is_charge_refundable' | 'metadata';
export type FakeDispute = Pick<Stripe.Dispute, Base | DisputeKeys | 'payment_intent' | 'reason' | 'status'>;
type StripeObject =
  | FakeProduct
  | FakePrice
  | FakeMeter
  | FakeCustomer
  | FakeCheckoutSession
  | FakePortalSession
  | FakeSubscription
  | FakeInvoice
  | FakeInvoicePayment
  | FakePaymentIntent
  | FakeCharge
  | FakeRefund
  | FakeDispute;
export type FakeEvent = Shape<
  Stripe.EventBase,
  'id' | 'object' | 'api_version' | 'created' | 'livemode' | 'pending_webhooks' | 'request' | 'type',
  { data: { object: StripeObject; previous_attributes?: Record<string, unknown> } }
>;
export type DeliveryMode = 'auto' | 'manual';
/** One POST of an event to the webhook endpoint: its HTTP status, or 0 when the endpoint could not be reached. */
export interface Delivery {
  eventId: string;
  type: string;
  status: number;
  signedAt: number;
}
export interface PaymentOptions {
  /** Overrides the customer's payment method (which succeeds unless `failPayments` was called). */
  paymentSucceeds?: boolean;
}

export interface FakeStripe {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly secretKey: string;
  /** The customer pays the checkout: subscription, first invoice (finalized, payment attempted), events. */
  completeCheckout(sessionId: string, options?: PaymentOptions): FakeSubscription;
  /** Ends the current period at `at` (default: now) and bills it; or cancels when cancel_at_period_end is set. */
  advancePeriod(subscriptionId: string, options?: PaymentOptions & { at?: number }): FakeInvoice | null;
  failPayments(customerId: string, fail: boolean): void;
  /** A Smart Retry of an open invoice. */
  retryInvoice(invoiceId: string, succeed: boolean): FakeInvoice;
  markUnpaid(subscriptionId: string): FakeSubscription;
  refund(chargeId: string, amount?: number): FakeRefund;
  dispute(chargeId: string, amount?: number): FakeDispute;
  closeDispute(disputeId: string, outcome: 'won' | 'lost'): FakeDispute;
  deliverTo(url: string, secret: string, options?: { mode?: DeliveryMode }): void;
  setDeliveryMode(mode: DeliveryMode): void;
  /** Delivers the queued events (manual mode): in order, reversed, or only those ids in that order. */
  flush(order?: 'reverse' | string[]): Promise<Delivery[]>;
  /** Sends an event again, newly signed. */
  redeliver(eventId: string): Promise<Delivery>;
  /** Resolves when no automatic delivery is in flight. */
  idle(): Promise<void>;
  events(type?: string): FakeEvent[];
  deliveries(): Delivery[];
  /** The body and `stripe-signature` header Stripe would send for an event (to forge or replay one). */
  signedRequest(event: FakeEvent, options?: { timestamp?: number; secret?: string }): { body: string; header: string };
  subscriptions(): FakeSubscription[];
  invoicesOf(customerId: string): FakeInvoice[];
  meterEventTotal(customerId: string, eventName: string, from: number, to: number): number;
  stop(): Promise<void>;
}

export async function startFakeStripe(): Promise<FakeStripe> {
  const fake = new FakeStripeServer();
  await fake.listen();
  return fake;
}

// ---------------------------------------------------------------------------------------------------- params

type Param = string | Param[] | { [key: string]: Param };
type Params = { [key: string]: Param };

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly code?: string,
    readonly param?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}
const invalid = (message: string, param?: string, code?: string) =>
  new ApiError(400, 'invalid_request_error', message, code, param);
const missing = (noun: string, id: string) =>
  new ApiError(404, 'invalid_request_error', `No such ${noun}: '${id}'`, 'resource_missing', 'id');

/** Parses Stripe's form encoding (`a[b][0][c]=v`, `list[]=v`) into nested objects and arrays. */
export function parseForm(text: string): Params {
  const root: { [key: string]: Param } = {};
  for (const pair of text.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    const key = decode(eq < 0 ? pair : pair.slice(0, eq));
    const value = decode(eq < 0 ? '' : pair.slice(eq + 1));
    const match = /^([^[\]]+)((?:\[[^\]]*\])*)$/.exec(key);
    if (!match) continue;
    const path = [match[1], ...[...match[2].matchAll(/\[([^\]]*)\]/g)].map((m) => m[1])];
    let node = root;
    path.forEach((segment, i) => {
      const name = segment === '' ? String(Object.keys(node).length) : segment;
      if (i === path.length - 1) node[name] = value;
      else {
        const next = node[name];
        if (typeof next !== 'object' || Array.isArray(next)) node[name] = {};
        node = node[name] as { [key: string]: Param };
      }
    });
  }
  const arrays = (value: Param, key: string): Param => {
    if (typeof value === 'string' || Array.isArray(value)) return value;
    const keys = Object.keys(value);
    const free = key === 'metadata' || key === 'payload';
    if (!free && keys.length > 0 && keys.every((k) => /^\d+$/.test(k)))
      return keys.sort((a, b) => Number(a) - Number(b)).map((k) => arrays(value[k], k));
    return Object.fromEntries(keys.map((k) => [k, arrays(value[k], k)]));
  };
  return arrays(root, '') as Params;
}

function str(p: Params, key: string, name = key): string | undefined {
  const v = p[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(`Invalid string: ${name}`, name);
  return v;
}
function required(p: Params, key: string, name = key): string {
  const v = str(p, key, name);
  if (v === undefined || v === '') throw invalid(`Missing required param: ${name}.`, name, 'parameter_missing');
  return v;
}
function int(p: Params, key: string, name = key): number | undefined {
  const v = str(p, key, name);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw invalid(`Invalid integer: ${v}`, name, 'parameter_invalid_integer');
  return Number(v);
}
function bool(p: Params, key: string, name = key): boolean | undefined {
  const v = str(p, key, name);
  if (v === undefined) return undefined;
  if (v !== 'true' && v !== 'false') throw invalid(`Invalid boolean: ${v}`, name);
  return v === 'true';
}
function obj(p: Params, key: string, name = key): Params | undefined {
  const v = p[key];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(`Invalid object: ${name}`, name);
  return v;
}
function list(p: Params, key: string, name = key): Params[] {
  const v = p[key];
  if (v === undefined || v === '') return [];
  if (!Array.isArray(v)) throw invalid(`Invalid array: ${name}`, name);
  return v.map((item, i) => {
    if (typeof item !== 'object' || Array.isArray(item)) throw invalid(`Invalid object: ${name}[${i}]`, name);
    return item;
  });
}
function strings(p: Params, key: string): string[] {
  const v = p[key];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((s): s is string => typeof s === 'string');
}
/** Stripe's metadata update: keys merge in, an empty value removes a key. */
function mergeMetadata(current: Record<string, string>, p: Params): Record<string, string> {
  const update = obj(p, 'metadata');
  if (p.metadata === '') return {};
  if (!update) return current;
  const next = { ...current };
  for (const [k, v] of Object.entries(update)) {
    if (typeof v !== 'string') throw invalid(`Invalid metadata[${k}]`, `metadata[${k}]`);
    if (v === '') delete next[k];
    else next[k] = v;
  }
  return next;
}

// ---------------------------------------------------------------------------------------------------- helpers

const now = () => Math.floor(Date.now() / 1000);
const newId = (prefix: string) =>
  `${prefix}_${randomBytes(18).toString('base64').replace(/[+/=]/g, '').slice(0, 24).padEnd(24, '0')}`;
const clone = <T>(value: T): T => structuredClone(value);
const money = (minor: number, currency: string) =>
  `${currency.toUpperCase()} ${Math.floor(Math.abs(minor) / 100)}.${String(Math.abs(minor) % 100).padStart(2, '0')}`;
const day = (ts: number) => new Date(ts * 1000).toISOString().slice(0, 10);

/** Adds billing intervals like Stripe: a month later on the same day, clamped to the month's last day. */
function addInterval(ts: number, recurring: NonNullable<FakePrice['recurring']>): number {
  const count = recurring.interval_count;
  if (recurring.interval === 'day') return ts + count * DAY;
  if (recurring.interval === 'week') return ts + count * 7 * DAY;
  const months = recurring.interval === 'year' ? 12 * count : count;
  const d = new Date(ts * 1000);
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1));
  const last = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(d.getUTCDate(), last));
  target.setUTCHours(d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds());
  return Math.floor(target.getTime() / 1000);
}

/** What a quantity costs at a price: per unit, or by graduated / volume tiers (`up_to: null` is the last tier). */
export function priceAmount(price: FakePrice, quantity: number): number {
  if (price.billing_scheme !== 'tiered') return Math.round((price.unit_amount ?? 0) * quantity);
  const tiers = price.tiers ?? [];
  if (quantity <= 0) return 0;
  if (price.tiers_mode === 'volume') {
    const tier = tiers.find((t) => t.up_to === null || quantity <= t.up_to) ?? tiers[tiers.length - 1];
    return Math.round((tier.flat_amount ?? 0) + (tier.unit_amount ?? 0) * quantity);
  }
  let total = 0;
  let floor = 0;
  for (const tier of tiers) {
    if (quantity <= floor) break;
    const ceiling = tier.up_to ?? Infinity;
    total += (tier.flat_amount ?? 0) + (tier.unit_amount ?? 0) * (Math.min(quantity, ceiling) - floor);
    floor = ceiling;
  }
  return Math.round(total);
}

/** Integer share of an amount for `part` of `whole` seconds, rounded half away from zero. */
const prorate = (amount: number, part: number, whole: number) =>
  Math.sign(amount) * Math.floor((2 * Math.abs(amount) * part + whole) / (2 * whole));

interface LineDraft {
  item: FakeSubscriptionItem;
  price: FakePrice;
  quantity: number | null;
  amount: number;
  description: string;
  period: { start: number; end: number };
  proration: boolean;
  invoiceItem: string | null;
}
interface CheckoutRecord {
  session: FakeCheckoutSession;
  lines: Array<{ price: FakePrice; quantity: number | null }>;
  metadata: Record<string, string>;
  trialDays: number | null;
}
type Handler = (p: Params, match: RegExpExecArray) => unknown;

// ---------------------------------------------------------------------------------------------------- server

class FakeStripeServer implements FakeStripe {
  readonly host = '127.0.0.1';
  readonly secretKey = `sk_test_${randomBytes(12).toString('hex')}`;
  port = 0;
  private readonly server = http.createServer((req, res) => void this.handle(req, res));

  private readonly products = new Map<string, FakeProduct>();
  private readonly prices = new Map<string, FakePrice>();
  private readonly meters = new Map<string, FakeMeter>();
  private readonly meterEvents: FakeMeterEvent[] = [];
  private readonly customers = new Map<string, FakeCustomer>();
  private readonly failing = new Set<string>();
  private readonly checkouts = new Map<string, CheckoutRecord>();
  private readonly portals = new Map<string, FakePortalSession>();
  private readonly subs = new Map<string, FakeSubscription>();
  private readonly pendingProrations = new Map<string, LineDraft[]>();
  private readonly invoices = new Map<string, FakeInvoice>();
  private readonly invoicePayments = new Map<string, FakeInvoicePayment>();
  private readonly paymentIntents = new Map<string, FakePaymentIntent>();
  private readonly charges = new Map<string, FakeCharge>();
  private readonly refunds = new Map<string, FakeRefund>();
  private readonly disputes = new Map<string, FakeDispute>();
  private readonly eventLog: FakeEvent[] = [];
  private readonly deliveryLog: Delivery[] = [];
  private readonly idempotent = new Map<string, { fingerprint: string; status: number; body: string }>();

  private endpoint: { url: string; secret: string } | null = null;
  private mode: DeliveryMode = 'auto';
  private queued: string[] = [];
  private inFlight: Promise<unknown> = Promise.resolve();
  private request: { id: string; idempotency_key: string | null } | null = null;

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, this.host, resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await this.idle();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ------------------------------------------------------------------------------------------------ HTTP

  private readonly routes: Array<[string, RegExp, Handler]> = [
    ['POST', /^\/v1\/products$/, (p) => this.createProduct(p)],
    ['GET', /^\/v1\/products\/([^/]+)$/, (p, m) => this.need(this.products, m[1], 'product')],
    ['POST', /^\/v1\/products\/([^/]+)$/, (p, m) => this.updateProduct(m[1], p)],
    ['GET', /^\/v1\/prices$/, (p) => this.listPrices(p)],
    ['POST', /^\/v1\/prices$/, (p) => this.createPrice(p)],
    ['GET', /^\/v1\/billing\/meters$/, (p) => this.listOf([...this.meters.values()], p, '/v1/billing/meters')],
    ['POST', /^\/v1\/billing\/meters$/, (p) => this.createMeter(p)],
    ['POST', /^\/v1\/billing\/meter_events$/, (p) => this.createMeterEvent(p)],
    ['POST', /^\/v1\/customers$/, (p) => this.createCustomer(p)],
    ['GET', /^\/v1\/customers\/([^/]+)$/, (p, m) => this.need(this.customers, m[1], 'customer')],
    ['POST', /^\/v1\/checkout\/sessions$/, (p) => this.createCheckout(p)],
    [
      'GET',
      /^\/v1\/checkout\/sessions\/([^/]+)$/,
      (p, m) => this.need(this.checkouts, m[1], 'checkout.session').session,
    ],
    ['POST', /^\/v1\/billing_portal\/sessions$/, (p) => this.createPortal(p)],
    ['GET', /^\/v1\/subscriptions$/, (p) => this.listSubscriptions(p)],
    ['GET', /^\/v1\/subscriptions\/([^/]+)$/, (p, m) => this.need(this.subs, m[1], 'subscription')],
    ['POST', /^\/v1\/subscriptions\/([^/]+)$/, (p, m) => this.updateSubscription(m[1], p)],
    ['GET', /^\/v1\/invoices$/, (p) => this.listInvoices(p)],
    ['POST', /^\/v1\/invoices\/create_preview$/, (p) => this.previewInvoice(p)],
    ['GET', /^\/v1\/invoices\/([^/]+)$/, (p, m) => this.need(this.invoices, m[1], 'invoice')],
    ['POST', /^\/v1\/invoices\/([^/]+)\/pay$/, (p, m) => this.payInvoice(m[1], p)],
    ['GET', /^\/v1\/invoice_payments$/, (p) => this.listInvoicePayments(p)],
    ['GET', /^\/v1\/charges\/([^/]+)$/, (p, m) => this.need(this.charges, m[1], 'charge')],
    ['GET', /^\/v1\/disputes\/([^/]+)$/, (p, m) => this.need(this.disputes, m[1], 'dispute')],
  ];

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    if (method === 'GET' && /^\/(checkout|portal|invoices)\//.test(url.pathname)) return this.page(url.pathname, res);
    const requestId = newId('req');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : null;
    const headers: Record<string, string> = { 'Request-Id': requestId, 'Stripe-Version': API_VERSION };
    const send = (status: number, body: string, extra: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers, ...extra }).end(body);
    };
    try {
      this.authorize(req.headers.authorization);
      const fingerprint = `${method} ${url.pathname} ${raw}`;
      const replay = method === 'POST' && key ? this.idempotent.get(key) : undefined;
      if (replay) {
        if (replay.fingerprint !== fingerprint)
          throw new ApiError(
            400,
            'idempotency_error',
            `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
          );
        return send(replay.status, replay.body, { 'Idempotent-Replayed': 'true' });
      }
      const route = this.routes.find(([m, pattern]) => m === method && pattern.test(url.pathname));
      if (!route)
        throw new ApiError(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${url.pathname}).`);
      const params = parseForm(method === 'POST' ? raw : url.search.slice(1));
      this.request = { id: requestId, idempotency_key: key };
      const result = route[2](params, route[1].exec(url.pathname) as RegExpExecArray);
      const body = JSON.stringify(this.render(result, '', new Set(strings(params, 'expand'))), null, 2);
      if (method === 'POST' && key) this.idempotent.set(key, { fingerprint, status: 200, body });
      send(200, body);
    } catch (error) {
      const e = error instanceof ApiError ? error : new ApiError(500, 'api_error', String(error));
      const body = { type: e.type, code: e.code, message: e.message, param: e.param, request_log_url: undefined };
      send(e.status, JSON.stringify({ error: body }, null, 2), e.headers);
    } finally {
      this.request = null;
    }
  }

  private authorize(header: string | undefined): void {
    const key = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    if (!key)
      throw new ApiError(
        401,
        'invalid_request_error',
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
      );
    if (key !== this.secretKey)
      throw new ApiError(
        401,
        'invalid_request_error',
        `Invalid API Key provided: ${key.slice(0, 8)}****${key.slice(-4)}`,
      );
  }

  private page(path: string, res: http.ServerResponse): void {
    const id = path.split('/')[2] ?? '';
    const known = this.checkouts.has(id) || this.portals.has(id) || this.invoices.has(id);
    const title = path.startsWith('/checkout') ? 'Checkout' : path.startsWith('/portal') ? 'Billing portal' : 'Invoice';
    res
      .writeHead(known ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' })
      .end(
        `<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1><p>${id}</p></body></html>`,
      );
  }

  /** Stripe's default representation plus expansions: `tiers` and `refunds` only when asked, ids into objects. */
  private render(value: unknown, path: string, expand: Set<string>): unknown {
    if (Array.isArray(value)) return value.map((v) => this.render(v, path, expand));
    if (value === null || typeof value !== 'object') return value;
    const source = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    const at = (key: string) => (path ? `${path}.${key}` : key);
    for (const [key, child] of Object.entries(source)) {
      if (key === 'tiers' && source.object === 'price' && !expand.has(at(key))) continue;
      const target = typeof child === 'string' && expand.has(at(key)) ? (this.find(child) ?? child) : child;
      out[key] = this.render(target, at(key), expand);
    }
    if (source.object === 'charge' && expand.has(at('refunds'))) {
      const refunds = [...this.refunds.values()].filter((r) => r.charge === source.id).reverse();
      out.refunds = { object: 'list', data: refunds, has_more: false, url: `/v1/charges/${String(source.id)}/refunds` };
    }
    return out;
  }

  private find(id: string): StripeObject | undefined {
    const stores: Array<Map<string, StripeObject>> = [
      this.products,
      this.prices,
      this.meters,
      this.customers,
      this.portals,
      this.subs,
      this.invoices,
      this.invoicePayments,
      this.paymentIntents,
      this.charges,
      this.refunds,
      this.disputes,
    ];
    return stores.find((s) => s.has(id))?.get(id) ?? this.checkouts.get(id)?.session;
  }

  private need<T>(store: Map<string, T>, id: string, noun: string): T {
    const found = store.get(id);
    if (!found) throw missing(noun, id);
    return found;
  }

  private listOf<T extends { id?: string | null }>(items: T[], p: Params, url: string): List<T> {
    const limit = int(p, 'limit') ?? 10;
    if (limit < 1 || limit > 100) throw invalid('Limit must be between 1 and 100.', 'limit');
    let newest = [...items].reverse();
    const after = str(p, 'starting_after');
    if (after) newest = newest.slice(newest.findIndex((i) => i.id === after) + 1);
    return { object: 'list', data: newest.slice(0, limit), has_more: newest.length > limit, url };
  }

  // ------------------------------------------------------------------------------------------------ catalogue

  private createProduct(p: Params): FakeProduct {
    const id = str(p, 'id') ?? newId('prod');
    if (this.products.has(id)) throw invalid('Product already exists.', 'id', 'resource_already_exists');
    const t = now();
    const product: FakeProduct = {
      id,
      object: 'product',
      active: bool(p, 'active') ?? true,
      created: t,
      updated: t,
      name: required(p, 'name'),
      description: str(p, 'description') ?? null,
      metadata: mergeMetadata({}, p),
      livemode: false,
      images: [],
      url: null,
    };
    this.products.set(id, product);
    this.emit('product.created', product);
    return product;
  }

  private updateProduct(id: string, p: Params): FakeProduct {
    const product = this.need(this.products, id, 'product');
    const before = clone(product);
    product.name = str(p, 'name') ?? product.name;
    product.description = str(p, 'description') ?? product.description;
    product.active = bool(p, 'active') ?? product.active;
    product.metadata = mergeMetadata(product.metadata, p);
    product.updated = now();
    this.emit('product.updated', product, before);
    return product;
  }

  private createPrice(p: Params): FakePrice {
    const product = this.need(this.products, required(p, 'product'), 'product');
    const scheme = str(p, 'billing_scheme') ?? 'per_unit';
    const recurringParams = obj(p, 'recurring');
    let recurring: FakePrice['recurring'] = null;
    if (recurringParams) {
      const usage = str(recurringParams, 'usage_type', 'recurring[usage_type]') ?? 'licensed';
      const meter = str(recurringParams, 'meter', 'recurring[meter]') ?? null;
      if (usage === 'metered' && !meter)
        throw invalid('Metered prices must be backed by a meter: pass recurring[meter].', 'recurring[meter]');
      if (meter) this.need(this.meters, meter, 'billing.meter');
      recurring = {
        interval: required(recurringParams, 'interval', 'recurring[interval]'),
        interval_count: int(recurringParams, 'interval_count', 'recurring[interval_count]') ?? 1,
        meter,
        trial_period_days: null,
        usage_type: usage,
      };
    }
    let tiers: Tier[] | undefined;
    if (scheme === 'tiered') {
      if (!str(p, 'tiers_mode'))
        throw invalid('Missing required param: tiers_mode.', 'tiers_mode', 'parameter_missing');
      tiers = list(p, 'tiers').map((t, i) => {
        const upTo = required(t, 'up_to', `tiers[${i}][up_to]`);
        const unit = int(t, 'unit_amount', `tiers[${i}][unit_amount]`) ?? null;
        const flat = int(t, 'flat_amount', `tiers[${i}][flat_amount]`) ?? null;
        return {
          up_to: upTo === 'inf' ? null : (int(t, 'up_to', `tiers[${i}][up_to]`) as number),
          unit_amount: unit,
          unit_amount_decimal: unit === null ? null : String(unit),
          flat_amount: flat,
          flat_amount_decimal: flat === null ? null : String(flat),
        };
      });
      if (tiers.length < 2 || tiers[tiers.length - 1].up_to !== null)
        throw invalid('The last tier must have up_to set to `inf`.', 'tiers');
    }
    const unitAmount = int(p, 'unit_amount') ?? null;
    if (scheme === 'per_unit' && unitAmount === null)
      throw invalid('Missing required param: unit_amount.', 'unit_amount', 'parameter_missing');
    const lookupKey = str(p, 'lookup_key') ?? null;
    const holder = [...this.prices.values()].find((x) => x.active && lookupKey !== null && x.lookup_key === lookupKey);
    if (holder && !bool(p, 'transfer_lookup_key'))
      throw invalid(`A price (\`${holder.id}\`) already uses that lookup key.`, 'lookup_key');
    if (holder) {
      const before = clone(holder);
      holder.lookup_key = null;
      this.emit('price.updated', holder, before);
    }
    const price: FakePrice = {
      id: newId('price'),
      object: 'price',
      active: bool(p, 'active') ?? true,
      billing_scheme: scheme,
      created: now(),
      currency: required(p, 'currency').toLowerCase(),
      livemode: false,
      lookup_key: lookupKey,
      metadata: mergeMetadata({}, p),
      nickname: str(p, 'nickname') ?? null,
      product: product.id,
      recurring,
      tiers,
      tiers_mode: scheme === 'tiered' ? (str(p, 'tiers_mode') ?? null) : null,
      type: recurring ? 'recurring' : 'one_time',
      unit_amount: scheme === 'tiered' ? null : unitAmount,
      unit_amount_decimal: scheme === 'tiered' || unitAmount === null ? null : String(unitAmount),
    };
    this.prices.set(price.id, price);
    this.emit('price.created', price);
    return price;
  }

  private listPrices(p: Params): List<FakePrice> {
    const keys = strings(p, 'lookup_keys');
    const active = bool(p, 'active');
    const product = str(p, 'product');
    const found = [...this.prices.values()].filter(
      (x) =>
        (keys.length === 0 || (x.lookup_key !== null && keys.includes(x.lookup_key))) &&
        (active === undefined || x.active === active) &&
        (product === undefined || x.product === product),
    );
    return this.listOf(found, p, '/v1/prices');
  }

  private createMeter(p: Params): FakeMeter {
    const eventName = required(p, 'event_name');
    if ([...this.meters.values()].some((m) => m.status === 'active' && m.event_name === eventName))
      throw invalid(`An active meter with event_name \`${eventName}\` already exists.`, 'event_name');
    const mapping = obj(p, 'customer_mapping') ?? {};
    const values = obj(p, 'value_settings') ?? {};
    const t = now();
    const meter: FakeMeter = {
      id: newId('mtr'),
      object: 'billing.meter',
      created: t,
      customer_mapping: {
        type: 'by_id',
        event_payload_key: str(mapping, 'event_payload_key') ?? 'stripe_customer_id',
      },
      default_aggregation: { formula: required(obj(p, 'default_aggregation') ?? {}, 'formula') },
      display_name: required(p, 'display_name'),
      event_name: eventName,
      event_time_window: null,
      livemode: false,
      status: 'active',
      status_transitions: { deactivated_at: null },
      updated: t,
      value_settings: { event_payload_key: str(values, 'event_payload_key') ?? 'value' },
    };
    this.meters.set(meter.id, meter);
    this.emit('billing.meter.created', meter);
    return meter;
  }

  private createMeterEvent(p: Params): FakeMeterEvent {
    const eventName = required(p, 'event_name');
    const meter = [...this.meters.values()].find((m) => m.status === 'active' && m.event_name === eventName);
    if (!meter) throw invalid(`No active meter was found with event_name \`${eventName}\`.`, 'event_name');
    const payload = obj(p, 'payload') ?? {};
    const customerKey = meter.customer_mapping.event_payload_key;
    const valueKey = meter.value_settings.event_payload_key;
    required(payload, customerKey, `payload[${customerKey}]`);
    const value = str(payload, valueKey, `payload[${valueKey}]`);
    if (value !== undefined && !Number.isFinite(Number(value)))
      throw invalid(`The value in payload[${valueKey}] must be a number.`, `payload[${valueKey}]`);
    const identifier = str(p, 'identifier') ?? newId('mev');
    if (this.meterEvents.some((e) => e.identifier === identifier))
      throw new ApiError(
        400,
        'invalid_request_error',
        `An event already exists with identifier ${identifier}.`,
        undefined,
        'identifier',
        { 'Stripe-Should-Retry': 'false' },
      );
    const t = now();
    const timestamp = int(p, 'timestamp') ?? t;
    if (timestamp < t - 35 * DAY || timestamp > t + 300)
      throw invalid(
        'The timestamp must be within the past 35 calendar days or up to 5 minutes in the future.',
        'timestamp',
      );
    const event: FakeMeterEvent = {
      object: 'billing.meter_event',
      created: t,
      event_name: eventName,
      identifier,
      livemode: false,
      payload: Object.fromEntries(Object.entries(payload).map(([k, v]) => [k, String(v)])),
      timestamp,
    };
    this.meterEvents.push(event);
    return event;
  }

  meterEventTotal(customerId: string, eventName: string, from: number, to: number): number {
    const meter = [...this.meters.values()].find((m) => m.event_name === eventName);
    return meter ? this.usage(customerId, meter, from, to) : 0;
  }

  /** The meter's aggregation (sum, count or last) over one customer's events with timestamp in [from, to). */
  private usage(customerId: string, meter: FakeMeter, from: number, to: number): number {
    const values = this.meterEvents
      .filter(
        (e) =>
          e.event_name === meter.event_name &&
          e.payload[meter.customer_mapping.event_payload_key] === customerId &&
          e.timestamp >= from &&
          e.timestamp < to,
      )
      .map((e) => Number(e.payload[meter.value_settings.event_payload_key] ?? 0));
    if (meter.default_aggregation.formula === 'count') return values.length;
    if (meter.default_aggregation.formula === 'last') return values[values.length - 1] ?? 0;
    return values.reduce((a, b) => a + b, 0);
  }

  // ------------------------------------------------------------------------------------------------ customers, sessions

  private createCustomer(p: Params): FakeCustomer {
    const customer: FakeCustomer = {
      id: newId('cus'),
      object: 'customer',
      balance: 0,
      created: now(),
      email: str(p, 'email') ?? null,
      name: str(p, 'name') ?? null,
      description: str(p, 'description') ?? null,
      metadata: mergeMetadata({}, p),
      livemode: false,
      invoice_prefix: randomBytes(4).toString('hex').toUpperCase(),
    };
    this.customers.set(customer.id, customer);
    this.emit('customer.created', customer);
    return customer;
  }

  private createCheckout(p: Params): FakeCheckoutSession {
    const mode = required(p, 'mode');
    if (mode !== 'subscription') throw invalid('This peer serves Checkout in `subscription` mode only.', 'mode');
    const customer = str(p, 'customer');
    if (customer) this.need(this.customers, customer, 'customer');
    const lines = list(p, 'line_items').map((line, i) => {
      const price = this.need(this.prices, required(line, 'price', `line_items[${i}][price]`), 'price');
      const quantity = int(line, 'quantity', `line_items[${i}][quantity]`) ?? null;
      const metered = price.recurring?.usage_type === 'metered';
      if (metered && quantity !== null)
        throw invalid(
          `Quantity should not be specified where usage_type is \`metered\`. Remove quantity from \`line_items[${i}]\`.`,
          `line_items[${i}][quantity]`,
        );
      if (!metered && quantity === null)
        throw invalid(`Quantity is required. Add \`quantity\` to \`line_items[${i}]\`.`, `line_items[${i}][quantity]`);
      return { price, quantity };
    });
    if (!lines.some((l) => l.price.recurring))
      throw invalid(
        'You must provide at least one recurring price in `subscription` mode when using prices.',
        'line_items',
      );
    const data = obj(p, 'subscription_data') ?? {};
    const trialDays = int(data, 'trial_period_days', 'subscription_data[trial_period_days]') ?? null;
    const total = lines.reduce((sum, l) => sum + (l.quantity === null ? 0 : priceAmount(l.price, l.quantity)), 0);
    const id = newId('cs_test');
    const t = now();
    const session: FakeCheckoutSession = {
      id,
      object: 'checkout.session',
      amount_subtotal: trialDays ? 0 : total,
      amount_total: trialDays ? 0 : total,
      cancel_url: str(p, 'cancel_url') ?? null,
      client_reference_id: str(p, 'client_reference_id') ?? null,
      created: t,
      currency: lines[0].price.currency,
      customer: customer ?? null,
      customer_email: str(p, 'customer_email') ?? null,
      expires_at: t + DAY,
      invoice: null,
      livemode: false,
      metadata: mergeMetadata({}, p),
      mode,
      payment_status: 'unpaid',
      status: 'open',
      subscription: null,
      success_url: str(p, 'success_url') ?? null,
      url: `${this.url}/checkout/${id}`,
    };
    this.checkouts.set(id, { session, lines, metadata: mergeMetadata({}, data), trialDays });
    return session;
  }

  private createPortal(p: Params): FakePortalSession {
    const customer = this.need(this.customers, required(p, 'customer'), 'customer');
    const id = newId('bps');
    const session: FakePortalSession = {
      id,
      object: 'billing_portal.session',
      configuration: 'bpc_default',
      created: now(),
      customer: customer.id,
      customer_account: null,
      flow: null,
      livemode: false,
      locale: null,
      on_behalf_of: null,
      return_url: str(p, 'return_url') ?? null,
      url: `${this.url}/portal/${id}`,
    };
    this.portals.set(id, session);
    this.emit('billing_portal.session.created', session);
    return session;
  }

  completeCheckout(sessionId: string, options: PaymentOptions = {}): FakeSubscription {
    const record = this.need(this.checkouts, sessionId, 'checkout.session');
    const { session } = record;
    if (session.status !== 'open') throw invalid(`Checkout session ${sessionId} is ${session.status}.`);
    const customerId =
      session.customer ?? this.createCustomer(session.customer_email ? { email: session.customer_email } : {}).id;
    const t = now();
    const trialEnd = record.trialDays ? t + record.trialDays * DAY : null;
    const subId = newId('sub');
    const sub: FakeSubscription = {
      id: subId,
      object: 'subscription',
      billing_cycle_anchor: trialEnd ?? t,
      cancel_at: null,
      cancel_at_period_end: false,
      canceled_at: null,
      cancellation_details: { comment: null, feedback: null, feedback_option: null, reason: null },
      collection_method: 'charge_automatically',
      created: t,
      currency: session.currency ?? 'usd',
      customer: customerId,
      default_payment_method: `pm_card_${customerId.slice(4, 12)}`,
      description: null,
      discounts: [],
      ended_at: null,
      items: { object: 'list', data: [], has_more: false, url: `/v1/subscription_items?subscription=${subId}` },
      latest_invoice: null,
      livemode: false,
      metadata: record.metadata,
      start_date: t,
      status: trialEnd ? 'trialing' : 'incomplete',
      trial_end: trialEnd,
      trial_start: trialEnd ? t : null,
    };
    for (const line of record.lines) sub.items.data.push(this.newItem(sub, line.price, line.quantity, t, trialEnd));
    this.subs.set(subId, sub);
    this.emit('customer.subscription.created', sub);
    const lines = sub.items.data
      .filter((item) => item.price.recurring?.usage_type !== 'metered')
      .map((item) => this.licensedLine(item, item.current_period_start, item.current_period_end, trialEnd !== null));
    this.changeSubscription(sub, () => {
      const invoice = this.bill(sub, 'subscription_create', lines, t, t, options);
      session.payment_status = trialEnd ? 'no_payment_required' : invoice.status === 'paid' ? 'paid' : 'unpaid';
    });
    session.status = 'complete';
    session.customer = customerId;
    session.subscription = subId;
    this.emit('checkout.session.completed', session);
    return clone(sub);
  }

  // ------------------------------------------------------------------------------------------------ subscriptions

  private newItem(
    sub: FakeSubscription,
    price: FakePrice,
    quantity: number | null,
    start: number,
    end: number | null,
  ): FakeSubscriptionItem {
    if (!price.recurring) throw invalid(`The price ${price.id} is not recurring.`, 'price');
    const metered = price.recurring.usage_type === 'metered';
    return {
      id: newId('si'),
      object: 'subscription_item',
      billing_thresholds: null,
      created: now(),
      current_period_start: start,
      current_period_end: end ?? addInterval(start, price.recurring),
      discounts: [],
      metadata: {},
      price: clone(price),
      ...(metered ? {} : { quantity: quantity ?? 1 }),
      subscription: sub.id,
      tax_rates: [],
    };
  }

  /** Applies a change and emits `customer.subscription.updated` with the previous values of what changed. */
  private changeSubscription(sub: FakeSubscription, change: () => void): void {
    const before = clone(sub) as unknown as Record<string, unknown>;
    change();
    const after = sub as unknown as Record<string, unknown>;
    const previous = Object.fromEntries(
      Object.keys(after)
        .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
        .map((k) => [k, before[k]]),
    );
    if (Object.keys(previous).length > 0) this.emit('customer.subscription.updated', sub, previous);
  }

  private listSubscriptions(p: Params): List<FakeSubscription> {
    const customer = str(p, 'customer');
    const status = str(p, 'status');
    const found = [...this.subs.values()].filter(
      (s) =>
        (customer === undefined || s.customer === customer) &&
        (status === 'all' ||
          (status === undefined && s.status !== 'canceled' && s.status !== 'incomplete_expired') ||
          (status === 'ended' && (s.status === 'canceled' || s.status === 'incomplete_expired')) ||
          s.status === status),
    );
    return this.listOf(found, p, '/v1/subscriptions');
  }

  private updateSubscription(id: string, p: Params): FakeSubscription {
    const sub = this.need(this.subs, id, 'subscription');
    if (sub.status === 'canceled')
      throw invalid('A canceled subscription can only update its cancellation_details and metadata.');
    const behavior = str(p, 'proration_behavior') ?? 'create_prorations';
    const t = now();
    const prorations: LineDraft[] = [];
    const shouldProrate = sub.status !== 'trialing' && behavior !== 'none';
    this.changeSubscription(sub, () => {
      list(p, 'items').forEach((change, i) => {
        const itemId = str(change, 'id', `items[${i}][id]`);
        const priceId = str(change, 'price', `items[${i}][price]`);
        const quantity = int(change, 'quantity', `items[${i}][quantity]`);
        const price = priceId ? this.need(this.prices, priceId, 'price') : undefined;
        if (!itemId) {
          if (!price) throw invalid(`Missing required param: items[${i}][price].`, `items[${i}][price]`);
          const anchor = sub.items.data[0];
          const item = this.newItem(sub, price, quantity ?? null, t, anchor?.current_period_end ?? null);
          sub.items.data.push(item);
          if (shouldProrate) prorations.push(...this.prorationLines(null, item, t));
          return;
        }
        const item = sub.items.data.find((x) => x.id === itemId);
        if (!item) throw invalid(`No such subscription item: '${itemId}'`, `items[${i}][id]`, 'resource_missing');
        const old = clone(item);
        if (bool(change, 'deleted', `items[${i}][deleted]`)) {
          sub.items.data = sub.items.data.filter((x) => x.id !== itemId);
          if (shouldProrate) prorations.push(...this.prorationLines(old, null, t));
          return;
        }
        if (price) item.price = clone(price);
        const metered = item.price.recurring?.usage_type === 'metered';
        if (metered && quantity !== undefined)
          throw invalid('You cannot set the quantity for metered plans.', `items[${i}][quantity]`);
        if (metered) delete item.quantity;
        else item.quantity = quantity ?? item.quantity ?? 1;
        if (shouldProrate) prorations.push(...this.prorationLines(old, item, t));
      });
      const cancel = bool(p, 'cancel_at_period_end');
      if (cancel !== undefined) {
        sub.cancel_at_period_end = cancel;
        sub.cancel_at = cancel ? (sub.items.data[0]?.current_period_end ?? t) : null;
      }
      sub.metadata = mergeMetadata(sub.metadata, p);
      if (prorations.length > 0 && behavior === 'always_invoice') {
        const pending = this.pendingProrations.get(sub.id) ?? [];
        this.pendingProrations.delete(sub.id);
        this.bill(sub, 'subscription_update', [...pending, ...prorations], t, t, {});
      } else if (prorations.length > 0) {
        this.pendingProrations.set(sub.id, [...(this.pendingProrations.get(sub.id) ?? []), ...prorations]);
      }
    });
    return sub;
  }

  /** Credit for the unused time of the old item, charge for the remaining time of the new one (licensed only). */
  private prorationLines(old: FakeSubscriptionItem | null, next: FakeSubscriptionItem | null, at: number): LineDraft[] {
    const lines: LineDraft[] = [];
    const sides: Array<[FakeSubscriptionItem | null, number, string]> = [
      [old, -1, 'Unused time on'],
      [next, 1, 'Remaining time on'],
    ];
    for (const [item, sign, label] of sides) {
      if (!item || item.price.recurring?.usage_type === 'metered') continue;
      const { current_period_start: start, current_period_end: end } = item;
      const quantity = item.quantity ?? 1;
      const amount = sign * prorate(priceAmount(item.price, quantity), end - at, end - start);
      const name = this.products.get(item.price.product)?.name ?? item.price.product;
      lines.push({
        item,
        price: item.price,
        quantity,
        amount,
        description: `${label} ${quantity} × ${name} after ${day(at)}`,
        period: { start: at, end },
        proration: true,
        invoiceItem: newId('ii'),
      });
    }
    if (old && next && lines.length === 2 && lines[0].amount + lines[1].amount === 0) return [];
    return lines;
  }

  private licensedLine(item: FakeSubscriptionItem, start: number, end: number, trial: boolean): LineDraft {
    const quantity = item.quantity ?? 1;
    const name = this.products.get(item.price.product)?.name ?? item.price.product;
    const unit = item.price.unit_amount;
    const interval = item.price.recurring?.interval ?? 'month';
    return {
      item,
      price: item.price,
      quantity,
      amount: trial ? 0 : priceAmount(item.price, quantity),
      description: trial
        ? `Trial period for ${name}`
        : `${quantity} × ${name}${unit === null ? '' : ` (at ${money(unit, item.price.currency)} / ${interval})`}`,
      period: { start, end },
      proration: false,
      invoiceItem: null,
    };
  }

  private meteredLine(sub: FakeSubscription, item: FakeSubscriptionItem, end: number): LineDraft {
    const meter = this.meters.get(item.price.recurring?.meter ?? '');
    const start = item.current_period_start;
    const quantity = meter ? this.usage(sub.customer, meter, start, end) : 0;
    const name = this.products.get(item.price.product)?.name ?? item.price.product;
    const trial = sub.status === 'trialing';
    return {
      item,
      price: item.price,
      quantity,
      amount: trial ? 0 : priceAmount(item.price, quantity),
      description: trial ? `Trial period for ${name}` : `${quantity} × ${name}`,
      period: { start, end },
      proration: false,
      invoiceItem: null,
    };
  }

  /** The lines closing a period that ends at `end`: usage of the period, the next period in advance, prorations. */
  private periodLines(sub: FakeSubscription, end: number, renew: boolean): LineDraft[] {
    const lines: LineDraft[] = [];
    for (const item of sub.items.data) {
      if (item.price.recurring?.usage_type === 'metered') lines.push(this.meteredLine(sub, item, end));
      else if (renew && item.price.recurring)
        lines.push(this.licensedLine(item, end, addInterval(end, item.price.recurring), false));
    }
    return [...(this.pendingProrations.get(sub.id) ?? []), ...lines];
  }

  advancePeriod(subscriptionId: string, options: PaymentOptions & { at?: number } = {}): FakeInvoice | null {
    const sub = this.need(this.subs, subscriptionId, 'subscription');
    if (sub.status === 'canceled') throw invalid(`Subscription ${subscriptionId} is canceled.`);
    const start = Math.max(...sub.items.data.map((i) => i.current_period_start));
    const end = Math.max(options.at ?? now(), start + 1);
    let invoice: FakeInvoice | null = null;
    if (sub.cancel_at_period_end) {
      const lines = this.periodLines(sub, end, false);
      this.pendingProrations.delete(sub.id);
      this.changeSubscription(sub, () => {
        if (lines.length > 0) invoice = this.bill(sub, 'subscription_cycle', lines, start, end, options);
      });
      sub.status = 'canceled';
      sub.canceled_at = sub.ended_at = end;
      sub.cancel_at = end;
      sub.cancellation_details = {
        comment: null,
        feedback: null,
        feedback_option: null,
        reason: 'cancellation_requested',
      };
      this.emit('customer.subscription.deleted', sub);
      return invoice;
    }
    const lines = this.periodLines(sub, end, true);
    this.pendingProrations.delete(sub.id);
    this.changeSubscription(sub, () => {
      for (const item of sub.items.data) {
        item.current_period_start = end;
        item.current_period_end = item.price.recurring ? addInterval(end, item.price.recurring) : end;
      }
      if (sub.status === 'trialing') {
        sub.status = 'active';
        sub.trial_end = end;
      }
      invoice = this.bill(sub, 'subscription_cycle', lines, start, end, options);
    });
    return invoice;
  }

  markUnpaid(subscriptionId: string): FakeSubscription {
    const sub = this.need(this.subs, subscriptionId, 'subscription');
    this.changeSubscription(sub, () => {
      sub.status = 'unpaid';
    });
    return clone(sub);
  }

  subscriptions(): FakeSubscription[] {
    return clone([...this.subs.values()]);
  }

  // ------------------------------------------------------------------------------------------------ invoices

  private invoiceOf(
    sub: FakeSubscription,
    id: string,
    reason: string,
    drafts: LineDraft[],
    periodStart: number,
    periodEnd: number,
  ): FakeInvoice {
    const customer = this.need(this.customers, sub.customer, 'customer');
    const preview = id.startsWith('upcoming_');
    const lines: FakeInvoiceLine[] = drafts.map((d) => ({
      id: newId(preview ? 'il_tmp' : 'il'),
      object: 'line_item',
      amount: d.amount,
      currency: sub.currency,
      description: d.description,
      discount_amounts: [],
      discountable: !d.proration,
      discounts: [],
      invoice: preview ? null : id,
      livemode: false,
      metadata: {},
      parent: {
        type: 'subscription_item_details',
        invoice_item_details: null,
        subscription_item_details: {
          invoice_item: d.invoiceItem,
          proration: d.proration,
          proration_details: { credited_items: null },
          subscription: sub.id,
          subscription_item: d.item.id,
        },
      },
      period: d.period,
      pretax_credit_amounts: [],
      pricing: {
        type: 'price_details',
        price_details: { price: d.price.id, product: d.price.product },
        unit_amount_decimal: d.price.unit_amount_decimal,
      },
      quantity: d.quantity,
      subscription: sub.id,
      subtotal: d.amount,
      taxes: [],
    }));
    const total = lines.reduce((sum, l) => sum + l.amount, 0);
    const owed = total + customer.balance;
    const t = now();
    return {
      id,
      object: 'invoice',
      amount_due: Math.max(owed, 0),
      amount_overpaid: 0,
      amount_paid: 0,
      amount_paid_off_stripe: 0,
      amount_remaining: Math.max(owed, 0),
      attempt_count: 0,
      attempted: false,
      auto_advance: !preview,
      billing_reason: reason,
      collection_method: 'charge_automatically',
      created: preview ? periodEnd : t,
      currency: sub.currency,
      customer: customer.id,
      customer_email: customer.email,
      customer_name: customer.name ?? null,
      description: null,
      due_date: null,
      effective_at: null,
      ending_balance: preview ? null : Math.min(owed, 0),
      hosted_invoice_url: null,
      invoice_pdf: null,
      livemode: false,
      metadata: {},
      next_payment_attempt: preview ? periodEnd : null,
      number: null,
      parent: {
        type: 'subscription_details',
        quote_details: null,
        subscription_details: { metadata: clone(sub.metadata), subscription: sub.id },
      },
      period_end: periodEnd,
      period_start: periodStart,
      starting_balance: customer.balance,
      status: 'draft',
      status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
      subtotal: total,
      total,
      lines: { object: 'list', data: lines, has_more: false, url: `/v1/invoices/${id}/lines` },
    };
  }

  /** Creates, finalizes and attempts to pay a subscription invoice; moves the subscription's status accordingly. */
  private bill(
    sub: FakeSubscription,
    reason: string,
    drafts: LineDraft[],
    periodStart: number,
    periodEnd: number,
    options: PaymentOptions,
  ): FakeInvoice {
    const invoice = this.invoiceOf(sub, newId('in'), reason, drafts, periodStart, periodEnd);
    this.invoices.set(invoice.id, invoice);
    this.emit('invoice.created', invoice);
    const customer = this.need(this.customers, sub.customer, 'customer');
    const count = [...this.invoices.values()].filter((i) => i.customer === customer.id && i.number).length;
    customer.balance = invoice.ending_balance ?? 0;
    invoice.status = 'open';
    invoice.number = `${customer.invoice_prefix}-${String(count + 1).padStart(4, '0')}`;
    invoice.hosted_invoice_url = `${this.url}/invoices/${invoice.id}`;
    invoice.invoice_pdf = `${this.url}/invoices/${invoice.id}/pdf`;
    invoice.effective_at = invoice.status_transitions.finalized_at = now();
    this.emit('invoice.finalized', invoice);
    sub.latest_invoice = invoice.id;
    this.attemptPayment(invoice, options.paymentSucceeds ?? !this.failing.has(sub.customer));
    this.settle(sub, invoice);
    return invoice;
  }

  private attemptPayment(invoice: FakeInvoice, succeed: boolean): void {
    const t = now();
    invoice.attempted = true;
    if (invoice.amount_due === 0) return this.markPaid(invoice, t);
    invoice.attempt_count += 1;
    if (!succeed) {
      invoice.next_payment_attempt = invoice.attempt_count < MAX_ATTEMPTS ? t + RETRY_DELAY : null;
      this.emit('invoice.payment_failed', invoice);
      return;
    }
    const base = { created: t, currency: invoice.currency, customer: invoice.customer, livemode: false, metadata: {} };
    const intent: FakePaymentIntent = {
      ...base,
      id: newId('pi'),
      object: 'payment_intent',
      amount: invoice.amount_due,
      amount_received: invoice.amount_due,
      description: 'Subscription update',
      latest_charge: null,
      payment_method: `pm_card_${invoice.customer.slice(4, 12)}`,
      status: 'succeeded',
    };
    const charge: FakeCharge = {
      ...base,
      id: newId('ch'),
      object: 'charge',
      amount: invoice.amount_due,
      amount_captured: invoice.amount_due,
      amount_refunded: 0,
      captured: true,
      description: 'Subscription update',
      disputed: false,
      failure_code: null,
      failure_message: null,
      paid: true,
      payment_intent: intent.id,
      payment_method: intent.payment_method as string,
      refunded: false,
      status: 'succeeded',
    };
    intent.latest_charge = charge.id;
    const payment: FakeInvoicePayment = {
      id: newId('inpay'),
      object: 'invoice_payment',
      amount_paid: invoice.amount_due,
      amount_requested: invoice.amount_due,
      created: t,
      currency: invoice.currency,
      invoice: invoice.id,
      is_default: true,
      livemode: false,
      payment: { type: 'payment_intent', payment_intent: intent.id },
      status: 'paid',
      status_transitions: { canceled_at: null, paid_at: t },
    };
    this.paymentIntents.set(intent.id, intent);
    this.charges.set(charge.id, charge);
    this.invoicePayments.set(payment.id, payment);
    this.emit('charge.succeeded', charge);
    this.emit('payment_intent.succeeded', intent);
    this.emit('invoice_payment.paid', payment);
    this.markPaid(invoice, t);
  }

  private markPaid(invoice: FakeInvoice, at: number, offStripe = false): void {
    invoice.status = 'paid';
    invoice.amount_paid = invoice.amount_due;
    invoice.amount_paid_off_stripe = offStripe ? invoice.amount_due : 0;
    invoice.amount_remaining = 0;
    invoice.next_payment_attempt = null;
    invoice.status_transitions.paid_at = at;
    this.emit('invoice.paid', invoice);
    this.emit('invoice.payment_succeeded', invoice);
  }

  /** Subscription status after a payment outcome: paid → active; unpaid first invoice → incomplete; else past_due. */
  private settle(sub: FakeSubscription, invoice: FakeInvoice): void {
    if (invoice.status === 'paid') {
      if (['incomplete', 'past_due', 'unpaid'].includes(sub.status)) sub.status = 'active';
    } else if (invoice.billing_reason === 'subscription_create') sub.status = 'incomplete';
    else if (sub.status === 'active' || sub.status === 'trialing') sub.status = 'past_due';
  }

  private subscriptionOf(invoice: FakeInvoice): FakeSubscription | undefined {
    const ref = invoice.parent?.subscription_details?.subscription;
    return typeof ref === 'string' ? this.subs.get(ref) : undefined;
  }

  retryInvoice(invoiceId: string, succeed: boolean): FakeInvoice {
    const invoice = this.need(this.invoices, invoiceId, 'invoice');
    if (invoice.status !== 'open') throw invalid(`Invoice ${invoiceId} is ${invoice.status}, not open.`);
    const sub = this.subscriptionOf(invoice);
    const apply = () => {
      this.attemptPayment(invoice, succeed);
      if (sub) this.settle(sub, invoice);
    };
    if (sub) this.changeSubscription(sub, apply);
    else apply();
    return clone(invoice);
  }

  private payInvoice(id: string, p: Params): FakeInvoice {
    const invoice = this.need(this.invoices, id, 'invoice');
    if (invoice.status === 'paid') throw invalid('Invoice is already paid.', undefined, 'invoice_already_paid');
    if (invoice.status !== 'open')
      throw invalid(`You can only pay an open invoice. This invoice is ${invoice.status}.`);
    const sub = this.subscriptionOf(invoice);
    let declined = false;
    const apply = () => {
      if (bool(p, 'paid_out_of_band')) this.markPaid(invoice, now(), true);
      else {
        this.attemptPayment(invoice, !this.failing.has(invoice.customer));
        declined = invoice.status !== 'paid';
      }
      if (sub) this.settle(sub, invoice);
    };
    if (sub) this.changeSubscription(sub, apply);
    else apply();
    if (declined)
      throw new ApiError(402, 'card_error', 'Your card was declined.', 'card_declined', undefined, {
        'Stripe-Should-Retry': 'false',
      });
    return invoice;
  }

  private listInvoices(p: Params): List<FakeInvoice> {
    const customer = str(p, 'customer');
    const subscription = str(p, 'subscription');
    const status = str(p, 'status');
    const found = [...this.invoices.values()].filter(
      (i) =>
        (customer === undefined || i.customer === customer) &&
        (subscription === undefined || this.subscriptionOf(i)?.id === subscription) &&
        (status === undefined || i.status === status),
    );
    return this.listOf(found, p, '/v1/invoices');
  }

  private previewInvoice(p: Params): FakeInvoice {
    const customer = this.need(this.customers, required(p, 'customer'), 'customer');
    const subId = str(p, 'subscription');
    const sub = subId
      ? this.need(this.subs, subId, 'subscription')
      : [...this.subs.values()].find((s) => s.customer === customer.id && s.status !== 'canceled');
    if (!sub || sub.status === 'canceled' || sub.customer !== customer.id)
      throw new ApiError(
        404,
        'invalid_request_error',
        `No upcoming invoices for customer: ${customer.id}`,
        'invoice_upcoming_none',
      );
    const start = Math.max(...sub.items.data.map((i) => i.current_period_start));
    const end = Math.min(...sub.items.data.map((i) => i.current_period_end));
    const lines = this.periodLines(sub, end, !sub.cancel_at_period_end);
    return this.invoiceOf(sub, newId('upcoming_in'), 'upcoming', lines, start, end);
  }

  invoicesOf(customerId: string): FakeInvoice[] {
    return clone([...this.invoices.values()].filter((i) => i.customer === customerId));
  }

  private listInvoicePayments(p: Params): List<FakeInvoicePayment> {
    const payment = obj(p, 'payment');
    const intent = payment ? str(payment, 'payment_intent', 'payment[payment_intent]') : undefined;
    const invoice = str(p, 'invoice');
    const found = [...this.invoicePayments.values()].filter(
      (x) =>
        (intent === undefined || x.payment.payment_intent === intent) &&
        (invoice === undefined || x.invoice === invoice),
    );
    return this.listOf(found, p, '/v1/invoice_payments');
  }

  failPayments(customerId: string, fail: boolean): void {
    this.need(this.customers, customerId, 'customer');
    if (fail) this.failing.add(customerId);
    else this.failing.delete(customerId);
  }

  // ------------------------------------------------------------------------------------------------ refunds, disputes

  refund(chargeId: string, amount?: number): FakeRefund {
    const charge = this.need(this.charges, chargeId, 'charge');
    const remaining = charge.amount - charge.amount_refunded;
    const value = amount ?? remaining;
    if (value <= 0 || value > remaining)
      throw invalid(`Refund amount (${value}) is greater than unrefunded amount on charge (${remaining})`, 'amount');
    const refund: FakeRefund = {
      id: newId('re'),
      object: 'refund',
      amount: value,
      charge: charge.id,
      created: now(),
      currency: charge.currency,
      metadata: {},
      payment_intent: charge.payment_intent,
      reason: 'requested_by_customer',
      status: 'succeeded',
    };
    this.refunds.set(refund.id, refund);
    charge.amount_refunded += value;
    charge.refunded = charge.amount_refunded === charge.amount;
    this.emit('refund.created', refund);
    this.emit('charge.refunded', charge);
    return clone(refund);
  }

  dispute(chargeId: string, amount?: number): FakeDispute {
    const charge = this.need(this.charges, chargeId, 'charge');
    const dispute: FakeDispute = {
      id: newId('dp'),
      object: 'dispute',
      amount: amount ?? charge.amount,
      balance_transactions: [],
      charge: charge.id,
      created: now(),
      currency: charge.currency,
      is_charge_refundable: false,
      livemode: false,
      metadata: {},
      payment_intent: charge.payment_intent,
      reason: 'fraudulent',
      status: 'needs_response',
    };
    this.disputes.set(dispute.id, dispute);
    charge.disputed = true;
    this.emit('charge.dispute.created', dispute);
    return clone(dispute);
  }

  closeDispute(disputeId: string, outcome: 'won' | 'lost'): FakeDispute {
    const dispute = this.need(this.disputes, disputeId, 'dispute');
    const before = clone(dispute);
    dispute.status = outcome;
    this.emit('charge.dispute.closed', dispute, { status: before.status });
    return clone(dispute);
  }

  // ------------------------------------------------------------------------------------------------ events, webhooks

  private emit(type: Stripe.Event['type'], object: StripeObject, previous?: object): FakeEvent {
    const event: FakeEvent = {
      id: newId('evt'),
      object: 'event',
      api_version: API_VERSION,
      created: now(),
      data: {
        object: clone(this.render(object, '', new Set()) as StripeObject),
        ...(previous ? { previous_attributes: clone(previous) as Record<string, unknown> } : {}),
      },
      livemode: false,
      pending_webhooks: this.endpoint ? 1 : 0,
      request: this.request ?? { id: null, idempotency_key: null },
      type,
    };
    this.eventLog.push(event);
    if (this.endpoint && this.mode === 'auto') this.inFlight = this.inFlight.then(() => this.send(event));
    else if (this.endpoint) this.queued.push(event.id);
    return event;
  }

  deliverTo(url: string, secret: string, options: { mode?: DeliveryMode } = {}): void {
    this.endpoint = { url, secret };
    this.mode = options.mode ?? 'auto';
  }

  setDeliveryMode(mode: DeliveryMode): void {
    this.mode = mode;
  }

  signedRequest(event: FakeEvent, options: { timestamp?: number; secret?: string } = {}) {
    const secret = options.secret ?? this.endpoint?.secret;
    if (!secret) throw new Error('no webhook secret: call deliverTo(url, secret) or pass one');
    const body = JSON.stringify(event, null, 2);
    const header = Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: options.timestamp });
    return { body, header };
  }

  private async send(event: FakeEvent): Promise<Delivery> {
    if (!this.endpoint) throw new Error('no webhook endpoint: call deliverTo(url, secret)');
    const signedAt = now();
    const { body, header } = this.signedRequest(event, { timestamp: signedAt });
    let status = 0;
    try {
      const res = await fetch(this.endpoint.url, {
        method: 'POST',
        signal: AbortSignal.timeout(10_000),
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'stripe-signature': header,
          'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        },
        body,
      });
      status = res.status;
      await res.arrayBuffer();
    } catch {
      status = 0;
    }
    if (status >= 200 && status < 300) event.pending_webhooks = Math.max(0, event.pending_webhooks - 1);
    const delivery: Delivery = { eventId: event.id, type: event.type, status, signedAt };
    this.deliveryLog.push(delivery);
    return delivery;
  }

  async flush(order?: 'reverse' | string[]): Promise<Delivery[]> {
    let ids: string[];
    if (Array.isArray(order)) {
      ids = order;
      this.queued = this.queued.filter((id) => !order.includes(id));
    } else {
      ids = order === 'reverse' ? [...this.queued].reverse() : [...this.queued];
      this.queued = [];
    }
    const out: Delivery[] = [];
    for (const id of ids) out.push(await this.send(this.needEvent(id)));
    return out;
  }

  async redeliver(eventId: string): Promise<Delivery> {
    return this.send(this.needEvent(eventId));
  }

  async idle(): Promise<void> {
    let current: Promise<unknown>;
    do {
      current = this.inFlight;
      await current;
    } while (current !== this.inFlight);
  }

  private needEvent(id: string): FakeEvent {
    const event = this.eventLog.find((e) => e.id === id);
    if (!event) throw new Error(`no event ${id}`);
    return event;
  }

  events(type?: string): FakeEvent[] {
    return clone(this.eventLog.filter((e) => type === undefined || e.type === type));
  }

  deliveries(): Delivery[] {
    return [...this.deliveryLog];
  }
}
