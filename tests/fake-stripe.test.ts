import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { startFakeStripe, type FakeStripe } from './support/fake-stripe';

let fake: FakeStripe;
let stripe: Stripe;

beforeAll(async () => {
  fake = await startFakeStripe();
  stripe = new Stripe(fake.secretKey, { host: fake.host, port: fake.port, protocol: 'http', maxNetworkRetries: 0 });
});
afterAll(async () => {
  await fake?.stop();
});

const lookupKey = (name: string) => `${name}_${Math.random().toString(36).slice(2, 10)}`;

async function product(name: string): Promise<Stripe.Product> {
  return stripe.products.create({ id: `nexus_plan_${lookupKey(name)}`, name, metadata: { planId: name } });
}

async function meter(metric: string): Promise<Stripe.Billing.Meter> {
  return stripe.billing.meters.create({
    display_name: metric,
    event_name: lookupKey(`nexus_${metric}`),
    default_aggregation: { formula: 'sum' },
    customer_mapping: { type: 'by_id', event_payload_key: 'stripe_customer_id' },
    value_settings: { event_payload_key: 'value' },
  });
}

async function licensed(amount: number, productId?: string): Promise<Stripe.Price> {
  return stripe.prices.create({
    product: productId ?? (await product('Seat plan')).id,
    currency: 'EUR',
    unit_amount: amount,
    recurring: { interval: 'month', usage_type: 'licensed' },
  });
}

/** A customer who went through checkout for these line items (paid unless told otherwise). */
async function subscribed(
  items: Stripe.Checkout.SessionCreateParams.LineItem[],
  options: { trialDays?: number; paymentSucceeds?: boolean } = {},
) {
  const customer = await stripe.customers.create({ email: 'owner@example.test', metadata: { tenantId: 't1' } });
  const session = await stripe.checkout.sessions.create({
    mode: 'subscription',
    customer: customer.id,
    client_reference_id: 't1',
    line_items: items,
    success_url: 'http://app.test/ok',
    cancel_url: 'http://app.test/cancel',
    subscription_data: {
      metadata: { tenantId: 't1', planId: 'pro', interval: 'month' },
      ...(options.trialDays ? { trial_period_days: options.trialDays } : {}),
    },
  });
  const sub = fake.completeCheckout(session.id, { paymentSucceeds: options.paymentSucceeds });
  return { customer, session, sub };
}

describe('fake Stripe, through the real SDK', () => {
  it('refuses a request without the right secret key', async () => {
    const stranger = new Stripe('sk_test_wrong', { host: fake.host, port: fake.port, protocol: 'http' });
    await expect(stranger.customers.create({ email: 'x@example.test' })).rejects.toMatchObject({
      type: 'StripeAuthenticationError',
      statusCode: 401,
    });
  });

  it('answers unknown objects and missing params with Stripe error bodies', async () => {
    await expect(stripe.customers.retrieve('cus_missing')).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      statusCode: 404,
      code: 'resource_missing',
      param: 'id',
    });
    await expect(stripe.products.create({ name: '' })).rejects.toMatchObject({
      statusCode: 400,
      code: 'parameter_missing',
      param: 'name',
    });
  });

  it('creates products under a custom id, refuses the id twice, and updates them', async () => {
    const created = await product('Pro');
    expect(created).toMatchObject({ object: 'product', active: true, name: 'Pro', metadata: { planId: 'Pro' } });
    await expect(stripe.products.create({ id: created.id, name: 'Again' })).rejects.toMatchObject({
      code: 'resource_already_exists',
    });
    const updated = await stripe.products.update(created.id, { name: 'Pro 2', metadata: { tier: 'gold' } });
    expect(updated.metadata).toEqual({ planId: 'Pro', tier: 'gold' });
    expect((await stripe.products.retrieve(created.id)).name).toBe('Pro 2');
  });

  it('keeps a lookup key on one active price unless it is transferred', async () => {
    const key = lookupKey('pro_month');
    const prod = await product('Pro');
    const first = await stripe.prices.create({
      product: prod.id,
      currency: 'eur',
      unit_amount: 1000,
      lookup_key: key,
      recurring: { interval: 'month' },
    });
    expect(first).toMatchObject({ object: 'price', currency: 'eur', type: 'recurring', lookup_key: key });
    expect(first.recurring).toMatchObject({ interval: 'month', interval_count: 1, usage_type: 'licensed' });
    const again = { product: prod.id, currency: 'eur', unit_amount: 1200, lookup_key: key };
    await expect(stripe.prices.create(again)).rejects.toMatchObject({ statusCode: 400, param: 'lookup_key' });
    const second = await stripe.prices.create({ ...again, transfer_lookup_key: true });
    const found = await stripe.prices.list({ lookup_keys: [key], active: true, limit: 100 });
    expect(found).toMatchObject({ object: 'list', has_more: false, url: '/v1/prices' });
    expect(found.data.map((p) => p.id)).toEqual([second.id]);
  });

  it('returns graduated tiers only when expanded', async () => {
    const m = await meter('tokens');
    const price = await stripe.prices.create({
      product: (await product('Tokens')).id,
      currency: 'eur',
      billing_scheme: 'tiered',
      tiers_mode: 'graduated',
      tiers: [
        { up_to: 100, unit_amount: 0 },
        { up_to: 'inf', unit_amount: 5, flat_amount: 200 },
      ],
      recurring: { interval: 'month', usage_type: 'metered', meter: m.id },
    });
    expect(price.tiers).toBeUndefined();
    const listed = await stripe.prices.list({ product: price.product as string, expand: ['data.tiers'] });
    expect(listed.data[0].tiers?.map((t) => [t.up_to, t.unit_amount, t.flat_amount])).toEqual([
      [100, 0, null],
      [null, 5, 200],
    ]);
  });

  it('lists active meters and refuses a meter event whose identifier was already used', async () => {
    const m = await meter('api_calls');
    expect(m).toMatchObject({ object: 'billing.meter', status: 'active', default_aggregation: { formula: 'sum' } });
    expect((await stripe.billing.meters.list({ status: 'active' })).data.map((x) => x.id)).toContain(m.id);
    const customer = await stripe.customers.create({ email: 'meter@example.test' });
    const t = Math.floor(Date.now() / 1000);
    const event = (identifier: string, value: string, timestamp = t) =>
      stripe.billing.meterEvents.create({
        event_name: m.event_name,
        identifier,
        timestamp,
        payload: { stripe_customer_id: customer.id, value },
      });
    expect(await event('u-1', '7')).toMatchObject({ object: 'billing.meter_event', identifier: 'u-1', timestamp: t });
    await event('u-2', '5', t - 3600);
    await expect(event('u-1', '7')).rejects.toMatchObject({
      statusCode: 400,
      type: 'StripeInvalidRequestError',
      message: 'An event already exists with identifier u-1.',
    });
    await expect(event('u-3', '1', t * 1000)).rejects.toMatchObject({ param: 'timestamp' });
    expect(fake.meterEventTotal(customer.id, m.event_name, t - 7200, t + 1)).toBe(12);
    expect(fake.meterEventTotal(customer.id, m.event_name, t - 60, t + 1)).toBe(7);
  });

  it('replays a POST sent again with the same Idempotency-Key', async () => {
    const params = { email: 'same@example.test', name: 'Acme', metadata: { tenantId: 't9' } };
    const a = await stripe.customers.create(params, { idempotencyKey: 'tenant-t9' });
    const b = await stripe.customers.create(params, { idempotencyKey: 'tenant-t9' });
    expect(b.id).toBe(a.id);
    expect(b.lastResponse.headers['idempotent-replayed']).toBe('true');
    await expect(
      stripe.customers.create({ ...params, name: 'Other' }, { idempotencyKey: 'tenant-t9' }),
    ).rejects.toMatchObject({ type: 'StripeIdempotencyError', statusCode: 400 });
    expect(await stripe.customers.retrieve(a.id)).toMatchObject({ object: 'customer', metadata: { tenantId: 't9' } });
  });

  it('turns a paid checkout into an active subscription with a paid first invoice', async () => {
    const price = await licensed(1500);
    const { customer, session, sub } = await subscribed([{ price: price.id, quantity: 2 }]);
    expect(session.url).toBe(`${fake.url}/checkout/${session.id}`);
    expect((await fetch(session.url!)).status).toBe(200);
    const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['subscription'] });
    expect(done).toMatchObject({ status: 'complete', payment_status: 'paid', client_reference_id: 't1' });
    expect((done.subscription as Stripe.Subscription).id).toBe(sub.id);

    const [listed] = (await stripe.subscriptions.list({ customer: customer.id, status: 'all' })).data;
    expect(listed).toMatchObject({ id: sub.id, status: 'active', metadata: { tenantId: 't1', planId: 'pro' } });
    const item = listed.items.data[0];
    expect(item).toMatchObject({ object: 'subscription_item', quantity: 2, price: { id: price.id } });
    expect(item.current_period_end - item.current_period_start).toBeGreaterThanOrEqual(28 * 86_400);

    const [invoice] = (await stripe.invoices.list({ customer: customer.id, limit: 10 })).data;
    expect(invoice).toMatchObject({
      object: 'invoice',
      status: 'paid',
      billing_reason: 'subscription_create',
      total: 3000,
      amount_paid: 3000,
      currency: 'eur',
      parent: { type: 'subscription_details', subscription_details: { subscription: sub.id } },
    });
    expect(invoice.parent?.subscription_details?.metadata).toMatchObject({ tenantId: 't1' });
    expect(invoice.lines.data[0]).toMatchObject({
      object: 'line_item',
      amount: 3000,
      quantity: 2,
      pricing: { price_details: { price: price.id } },
      period: { start: item.current_period_start, end: item.current_period_end },
      parent: { subscription_item_details: { proration: false, subscription_item: item.id } },
    });
    expect(await stripe.invoices.retrieve(invoice.id)).toMatchObject({ id: invoice.id, number: invoice.number });

    const [payment] = (await stripe.invoicePayments.list({ invoice: invoice.id })).data;
    const intent = payment.payment.payment_intent as string;
    const byIntent = await stripe.invoicePayments.list({ payment: { type: 'payment_intent', payment_intent: intent } });
    expect(byIntent.data).toEqual([expect.objectContaining({ object: 'invoice_payment', invoice: invoice.id })]);
    expect(intent).toMatch(/^pi_/);
    const portal = await stripe.billingPortal.sessions.create({ customer: customer.id, return_url: 'http://app.test' });
    expect(portal).toMatchObject({ object: 'billing_portal.session', customer: customer.id });
    expect((await fetch(portal.url)).status).toBe(200);
  });

  it('bills metered usage of the ended period by graduated tiers, as the preview foresaw', async () => {
    const m = await meter('messages');
    const metered = await stripe.prices.create({
      product: (await product('Messages')).id,
      currency: 'eur',
      billing_scheme: 'tiered',
      tiers_mode: 'graduated',
      tiers: [
        { up_to: 100, unit_amount: 0 },
        { up_to: 1000, unit_amount: 2 },
        { up_to: 'inf', unit_amount: 1, flat_amount: 500 },
      ],
      recurring: { interval: 'month', usage_type: 'metered', meter: m.id },
    });
    const base = await licensed(1000);
    const { customer, sub } = await subscribed([{ price: base.id, quantity: 1 }, { price: metered.id }]);
    for (const [i, value] of ['600', '650'].entries())
      await stripe.billing.meterEvents.create({
        event_name: m.event_name,
        identifier: `${sub.id}-${i}`,
        payload: { stripe_customer_id: customer.id, value },
      });
    // 1250 units: 100 free, 900 × 2 = 1800, then 500 flat + 250 × 1 = 750.
    const preview = await stripe.invoices.createPreview({ customer: customer.id, subscription: sub.id });
    expect(preview).toMatchObject({ object: 'invoice', status: 'draft', total: 3550 });
    expect(preview.id).toMatch(/^upcoming_in_/);
    const invoice = fake.advancePeriod(sub.id, { at: Math.floor(Date.now() / 1000) + 1 })!;
    expect(invoice).toMatchObject({ billing_reason: 'subscription_cycle', status: 'paid', total: 3550 });
    const usage = invoice.lines.data.find((l) => l.pricing.price_details.price === metered.id)!;
    expect(usage).toMatchObject({ quantity: 1250, amount: 2550 });
    const renewed = await stripe.subscriptions.retrieve(sub.id);
    expect(renewed.items.data[0].current_period_start).toBe(usage.period.end);
  });

  it('puts prorations of a mid-period upgrade on the next invoice', async () => {
    const prod = await product('Plans');
    const [basic, pro] = [await licensed(1000, prod.id), await licensed(3000, prod.id)];
    const { customer, sub } = await subscribed([{ price: basic.id, quantity: 1 }]);
    const updated = await stripe.subscriptions.update(sub.id, {
      items: [{ id: sub.items.data[0].id, price: pro.id }],
      proration_behavior: 'create_prorations',
      metadata: { planId: 'pro-plus' },
    });
    expect(updated).toMatchObject({ status: 'active', metadata: { tenantId: 't1', planId: 'pro-plus' } });
    expect(updated.items.data[0].price.id).toBe(pro.id);
    const preview = await stripe.invoices.createPreview({ customer: customer.id, subscription: sub.id });
    const prorations = preview.lines.data.filter((l) => l.parent?.subscription_item_details?.proration);
    expect(prorations.map((l) => l.amount)).toEqual([-1000, 3000]);
    const invoice = fake.advancePeriod(sub.id)!;
    expect(invoice.lines.data.map((l) => l.amount)).toEqual([-1000, 3000, 3000]);
    expect(invoice.total).toBe(5000);
    const next = await stripe.invoices.createPreview({ customer: customer.id, subscription: sub.id });
    expect(next.lines.data.map((l) => l.amount)).toEqual([3000]);
  });

  it('invoices a quantity change at once with always_invoice', async () => {
    const seat = await licensed(800);
    const { sub } = await subscribed([{ price: seat.id, quantity: 1 }]);
    const updated = await stripe.subscriptions.update(sub.id, {
      items: [{ id: sub.items.data[0].id, quantity: 3 }],
      proration_behavior: 'always_invoice',
    });
    const invoice = await stripe.invoices.retrieve(updated.latest_invoice as string);
    expect(invoice).toMatchObject({ billing_reason: 'subscription_update', status: 'paid', total: 1600 });
  });

  it('starts a trial with a zero invoice and charges when the trial ends', async () => {
    const price = await licensed(2000);
    const { customer, session, sub } = await subscribed([{ price: price.id, quantity: 1 }], { trialDays: 14 });
    expect(sub).toMatchObject({ status: 'trialing' });
    expect(sub.trial_end! - sub.trial_start!).toBe(14 * 86_400);
    expect((await stripe.checkout.sessions.retrieve(session.id)).payment_status).toBe('no_payment_required');
    const [first] = fake.invoicesOf(customer.id);
    expect(first).toMatchObject({ total: 0, status: 'paid' });
    expect(first.lines.data[0].description).toMatch(/^Trial period for/);
    const invoice = fake.advancePeriod(sub.id)!;
    expect(invoice).toMatchObject({ total: 2000, status: 'paid' });
    expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe('active');
  });

  it('keeps failed payments open for Smart Retries and recovers the subscription once paid', async () => {
    const price = await licensed(1000);
    const { customer, sub } = await subscribed([{ price: price.id, quantity: 1 }], { paymentSucceeds: false });
    expect(sub.status).toBe('incomplete');
    const [first] = fake.invoicesOf(customer.id);
    expect(first).toMatchObject({ status: 'open', attempt_count: 1, amount_paid: 0 });
    expect(first.next_payment_attempt).toBeGreaterThan(Date.now() / 1000);
    expect(fake.retryInvoice(first.id, true)).toMatchObject({ status: 'paid', attempt_count: 2 });
    expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe('active');

    fake.failPayments(customer.id, true);
    const renewal = fake.advancePeriod(sub.id)!;
    expect(renewal).toMatchObject({ status: 'open', attempt_count: 1 });
    expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe('past_due');
    await expect(stripe.invoices.pay(renewal.id)).rejects.toMatchObject({ statusCode: 402, code: 'card_declined' });
    expect(fake.markUnpaid(sub.id).status).toBe('unpaid');
    const paid = await stripe.invoices.pay(renewal.id, { paid_out_of_band: true });
    expect(paid).toMatchObject({ status: 'paid', amount_paid: 1000, amount_remaining: 0 });
    expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe('active');
  });

  it('cancels at period end with a final invoice for the usage only', async () => {
    const m = await meter('storage');
    const metered = await stripe.prices.create({
      product: (await product('Storage')).id,
      currency: 'eur',
      unit_amount: 3,
      recurring: { interval: 'month', usage_type: 'metered', meter: m.id },
    });
    const base = await licensed(1000);
    const { customer, sub } = await subscribed([{ price: base.id, quantity: 1 }, { price: metered.id }]);
    const updated = await stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
    expect(updated.cancel_at).toBe(updated.items.data[0].current_period_end);
    await stripe.billing.meterEvents.create({
      event_name: m.event_name,
      payload: { stripe_customer_id: customer.id, value: '40' },
    });
    const final = fake.advancePeriod(sub.id, { at: Math.floor(Date.now() / 1000) + 1 })!;
    expect(final.lines.data.map((l) => [l.quantity, l.amount])).toEqual([[40, 120]]);
    expect(await stripe.subscriptions.retrieve(sub.id)).toMatchObject({ status: 'canceled' });
    expect((await stripe.subscriptions.list({ customer: customer.id })).data).toEqual([]);
    expect(fake.events('customer.subscription.deleted').map((e) => e.data.object.id)).toContain(sub.id);
  });

  it('refunds and disputes a charge, with the refunds on the charge when expanded', async () => {
    const { customer } = await subscribed([{ price: (await licensed(5000)).id, quantity: 1 }]);
    const [payment] = (await stripe.invoicePayments.list({ invoice: fake.invoicesOf(customer.id)[0].id })).data;
    const charges = fake.events('charge.succeeded').map((e) => e.data.object as Stripe.Charge);
    const charge = charges.find((c) => c.payment_intent === payment.payment.payment_intent)!;
    const refund = fake.refund(charge.id, 1200);
    expect(refund).toMatchObject({ object: 'refund', amount: 1200, charge: charge.id, status: 'succeeded' });
    const refunded = await stripe.charges.retrieve(charge.id, { expand: ['refunds'] });
    expect(refunded).toMatchObject({ amount_refunded: 1200, refunded: false });
    expect(refunded.refunds?.data.map((r) => r.id)).toEqual([refund.id]);
    expect((await stripe.charges.retrieve(charge.id)).refunds).toBeUndefined();
    expect(fake.events('charge.refunded').at(-1)?.data.object).toMatchObject({ id: charge.id, amount_refunded: 1200 });

    const dispute = fake.dispute(charge.id);
    expect(await stripe.disputes.retrieve(dispute.id)).toMatchObject({ status: 'needs_response', amount: 5000 });
    fake.closeDispute(dispute.id, 'lost');
    expect((await stripe.disputes.retrieve(dispute.id)).status).toBe('lost');
    expect(fake.events('charge.dispute.closed').at(-1)?.data).toMatchObject({
      object: { id: dispute.id, status: 'lost' },
      previous_attributes: { status: 'needs_response' },
    });
  });
});

describe('fake Stripe webhooks', () => {
  const secret = 'whsec_test_secret';
  const received: Array<{ body: string; signature: string }> = [];
  let receiver: http.Server;
  let receiverUrl: string;

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({
          body: Buffer.concat(chunks).toString('utf8'),
          signature: String(req.headers['stripe-signature']),
        });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/commerce/stripe`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });
  beforeEach(() => {
    received.length = 0;
  });

  it('delivers every event signed so that constructEvent verifies it', async () => {
    fake.deliverTo(receiverUrl, secret);
    const { sub } = await subscribed([{ price: (await licensed(900)).id, quantity: 1 }]);
    await fake.idle();
    const events = received.map((r) => stripe.webhooks.constructEvent(r.body, r.signature, secret));
    const types = events.map((e) => e.type);
    for (const type of [
      'customer.subscription.created',
      'invoice.created',
      'invoice.finalized',
      'invoice.paid',
      'customer.subscription.updated',
      'checkout.session.completed',
    ])
      expect(types).toContain(type);
    const updated = events.find((e) => e.type === 'customer.subscription.updated')!;
    expect(updated).toMatchObject({ api_version: '2026-10-28.endive', livemode: false, object: 'event' });
    expect(updated.data.object).toMatchObject({ id: sub.id, status: 'active' });
    expect(updated.data.previous_attributes).toMatchObject({ status: 'incomplete' });
    const apiEvent = events.find((e) => e.type === 'customer.created');
    expect(apiEvent?.request?.id).toMatch(/^req_/);
    expect(fake.deliveries().filter((d) => d.status !== 200)).toEqual([]);
  });

  it('holds events in manual mode and delivers them in the order the test asks', async () => {
    fake.deliverTo(receiverUrl, secret, { mode: 'manual' });
    const { customer } = await subscribed([{ price: (await licensed(900)).id, quantity: 1 }]);
    expect(received).toEqual([]);
    const mine = fake.events().filter((e) => JSON.stringify(e.data.object).includes(customer.id));
    const reversed = await fake.flush('reverse');
    expect(reversed.map((d) => d.eventId).slice(0, 2)).toEqual(
      mine
        .slice(-2)
        .reverse()
        .map((e) => e.id),
    );
    const paid = fake.events('invoice.paid').at(-1)!;
    const again = await fake.redeliver(paid.id);
    expect(again).toMatchObject({ eventId: paid.id, status: 200 });
    const copies = received.filter((r) => r.body.includes(`"id": "${paid.id}"`));
    expect(copies).toHaveLength(2);
    for (const copy of copies)
      expect(stripe.webhooks.constructEvent(copy.body, copy.signature, secret).id).toBe(paid.id);
    fake.setDeliveryMode('auto');
  });

  it('signs forged and replayed requests that verification must refuse', () => {
    const event = fake.events('checkout.session.completed').at(-1)!;
    const stale = fake.signedRequest(event, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    expect(() => stripe.webhooks.constructEvent(stale.body, stale.header, secret)).toThrow(/tolerance/);
    const forged = fake.signedRequest(event, { secret: 'whsec_attacker' });
    expect(() => stripe.webhooks.constructEvent(forged.body, forged.header, secret)).toThrow(/signature/i);
    const fresh = fake.signedRequest(event);
    expect(stripe.webhooks.constructEvent(fresh.body, fresh.header, secret).id).toBe(event.id);
  });
});
