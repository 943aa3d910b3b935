import type { SubgraphDeps } from '../kernel/subgraph';
import { startFakeStripe, type FakeStripe } from './support/fake-stripe';
import { testConfig } from './support/platform';
import type { BillingAccountRecord, PlanRecord } from '../subgraphs/commerce/billing/billing.model';
import type { BillingState } from '../subgraphs/commerce/billing/billing.service';
import { isDuplicateMeterEvent, StripeProvider } from '../subgraphs/commerce/billing/stripe/stripe.provider';
import { stripeWebhookHook } from '../subgraphs/commerce/billing/stripe/stripe.webhooks';

const WEBHOOK_SECRET = 'whsec_test';

const plan: PlanRecord = {
  id: 'team',
  name: 'Team',
  description: null,
  currency: 'EUR',
  trialDays: 0,
  modules: [],
  limits: {},
  active: true,
  providerPrices: {},
  prices: [
    { key: 'nexus_team_month_flat_a1', interval: 'month', kind: 'flat', metric: null, unitAmount: '1900', tiers: null },
    { key: 'nexus_team_month_seat_b2', interval: 'month', kind: 'seat', metric: null, unitAmount: '500', tiers: null },
    {
      key: 'nexus_team_month_metered_api_calls_c3',
      interval: 'month',
      kind: 'metered',
      metric: 'api_calls',
      unitAmount: null,
      tiers: [
        { upTo: 1000, unitAmount: '0', flatAmount: '0' },
        { upTo: null, unitAmount: '2', flatAmount: '0' },
      ],
    },
    { key: 'nexus_team_year_flat_d4', interval: 'year', kind: 'flat', metric: null, unitAmount: '19000', tiers: null },
  ],
};

const pro: PlanRecord = {
  ...plan,
  id: 'pro',
  name: 'Pro',
  prices: [
    { key: 'nexus_pro_month_flat_e5', interval: 'month', kind: 'flat', metric: null, unitAmount: '4900', tiers: null },
    { key: 'nexus_pro_month_seat_f6', interval: 'month', kind: 'seat', metric: null, unitAmount: '700', tiers: null },
  ],
};

function account(tenantId: string, customerId: string | null = null): BillingAccountRecord {
  return {
    tenantId,
    version: 0,
    provider: 'stripe',
    customerId,
    email: 'billing@example.com',
    planId: null,
    interval: null,
    status: 'none',
    subscriptionId: null,
    currentPeriodStart: null,
    currentPeriodEnd: null,
    trialEnd: null,
    cancelAtPeriodEnd: false,
    seats: 0,
    delinquent: false,
    dunningInvoiceId: null,
    dunningStartedAt: null,
  };
}

describe('Stripe billing provider against a Stripe peer', () => {
  let fake: FakeStripe;
  let provider: StripeProvider;
  let deps: SubgraphDeps;

  beforeAll(async () => {
    fake = await startFakeStripe();
    const config = testConfig({
      STRIPE_SECRET_KEY: fake.secretKey,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_API_URL: fake.url,
    });
    // The provider needs only the configuration; the hook's checks below run before any database access.
    deps = { name: 'commerce', config } as Pick<SubgraphDeps, 'name' | 'config'> as SubgraphDeps;
    provider = new StripeProvider(deps);
  });

  afterAll(() => fake.stop());

  it('syncs a plan once: product, meter and prices are found by key the second time', async () => {
    const first = await provider.syncPlan(plan);
    expect(Object.keys(first).sort()).toEqual(plan.prices.map((p) => p.key).sort());
    const again = await provider.syncPlan({ ...plan, name: 'Team (renamed)' });
    expect(again).toEqual(first);
    const product = await provider.stripe.products.retrieve('nexus_plan_team');
    expect(product.name).toBe('Team (renamed)');
    const meters = await provider.stripe.billing.meters.list({ status: 'active', limit: 100 });
    expect(meters.data.filter((m) => m.event_name === 'nexus_api_calls')).toHaveLength(1);
    const prices = await provider.stripe.prices.list({ lookup_keys: plan.prices.map((p) => p.key), limit: 100 });
    expect(prices.data).toHaveLength(plan.prices.length);
    const metered = prices.data.find((p) => p.lookup_key === 'nexus_team_month_metered_api_calls_c3')!;
    expect(metered.recurring?.usage_type).toBe('metered');
    expect(metered.billing_scheme).toBe('tiered');
    expect(metered.metadata).toEqual({ planId: 'team', kind: 'metered', metric: 'api_calls' });
    plan.providerPrices = first;
  });

  it('creates a customer once per tenant', async () => {
    const a = account('00000000-0000-4000-8000-000000000001');
    const id = await provider.ensureCustomer(a, 'Acme');
    expect(await provider.ensureCustomer(a, 'Acme')).toBe(id);
    expect(await provider.ensureCustomer({ ...a, customerId: id }, null)).toBe(id);
  });

  it('checks out a plan and reads back the subscription and its invoice as snapshots', async () => {
    const tenantId = '00000000-0000-4000-8000-000000000002';
    const customerId = await provider.ensureCustomer(account(tenantId), 'Beta');
    const acct = account(tenantId, customerId);
    const { url, changes } = await provider.startCheckout({
      account: acct,
      plan,
      interval: 'month',
      seats: 3,
      successUrl: 'https://app.example/ok',
      cancelUrl: 'https://app.example/cancel',
    });
    expect(changes).toEqual({});
    const sessionId = url.split('/').pop()!;
    fake.completeCheckout(sessionId);
    const checkout = await provider.readCheckout(sessionId);
    expect(checkout?.customerId).toBe(customerId);
    const sub = await provider.readSubscription(checkout!.subscriptionId);
    const snapshot = provider.snapshot(sub!);
    expect(snapshot).toMatchObject({
      subscriptionId: checkout!.subscriptionId,
      customerId,
      planId: 'team',
      interval: 'month',
      status: 'active',
      seats: 3,
      cancelAtPeriodEnd: false,
    });
    expect(snapshot.currentPeriodEnd!.getTime()).toBeGreaterThan(snapshot.currentPeriodStart!.getTime());

    const invoices = await provider.invoices({ ...acct, subscriptionId: snapshot.subscriptionId });
    expect(invoices).toHaveLength(1);
    const [invoice] = invoices;
    expect(invoice).toMatchObject({ status: 'paid', currency: 'EUR', subscriptionId: snapshot.subscriptionId });
    expect(invoice.amountPaid).toBe(String(1900 + 3 * 500));
    expect(invoice.lines.map((l) => l.kind).sort()).toEqual(expect.arrayContaining(['flat', 'seat']));
    expect(invoice.lines.find((l) => l.kind === 'seat')).toMatchObject({ quantity: '3', amount: '1500' });
    // Another tenant's account cannot read it.
    expect(await provider.invoice(account('x', 'cus_other'), invoice.invoiceId)).toBeNull();
    expect(await provider.invoice(acct, 'in_missing')).toBeNull();

    const subscribed = { ...acct, subscriptionId: snapshot.subscriptionId, planId: 'team', seats: 3 };
    const seats = await provider.setSeats(subscribed, 5);
    expect(seats.subscription?.seats).toBe(5);
    const cancel = await provider.setCancelAtPeriodEnd(subscribed, true);
    expect(cancel.subscription?.cancelAtPeriodEnd).toBe(true);
    await provider.setCancelAtPeriodEnd(subscribed, false);

    const changed = await provider.changePlan(subscribed, pro, 'month');
    expect(changed.subscription).toMatchObject({ planId: 'pro', interval: 'month', seats: 5 });
    const items = (await provider.readSubscription(snapshot.subscriptionId))!.items.data;
    expect(items.map((i) => i.price.metadata.planId)).toEqual(['pro', 'pro']);

    const upcoming = await provider.upcomingInvoice(subscribed);
    expect(upcoming?.currency).toBe('EUR');
  });

  it('reports a meter event once per identifier', async () => {
    const customerId = await provider.ensureCustomer(account('00000000-0000-4000-8000-000000000003'), null);
    const event = {
      metric: 'api_calls',
      customerId,
      value: '42',
      identifier: `nexus:t:api_calls::${new Date().toISOString()}:42`,
      timestamp: Math.floor(Date.now() / 1000) - 60,
    };
    expect(await provider.sendMeterEvent(event)).toBe('sent');
    expect(await provider.sendMeterEvent(event)).toBe('duplicate');
    expect(fake.meterEventTotal(customerId, 'nexus_api_calls', event.timestamp - 10, event.timestamp + 10)).toBe(42);
    const old = { ...event, identifier: 'old', timestamp: event.timestamp - 40 * 86_400 };
    await expect(provider.sendMeterEvent(old)).rejects.toMatchObject({
      extensions: { code: 'PAYMENT_PROVIDER_ERROR' },
    });
    expect(isDuplicateMeterEvent(new Error('An event already exists with identifier x'))).toBe(false);
  });

  it('records an out-of-band payment of an open invoice', async () => {
    const tenantId = '00000000-0000-4000-8000-000000000004';
    const customerId = await provider.ensureCustomer(account(tenantId), null);
    const acct = account(tenantId, customerId);
    const { url } = await provider.startCheckout({
      account: acct,
      plan,
      interval: 'year',
      seats: 1,
      successUrl: 'https://app.example/ok',
      cancelUrl: 'https://app.example/cancel',
    });
    fake.failPayments(customerId, true);
    fake.completeCheckout(url.split('/').pop()!);
    const [open] = await provider.invoices(acct);
    expect(open.status).toBe('open');
    expect(open.attemptCount).toBeGreaterThan(0);
    const { invoices } = await provider.markInvoicePaid(acct, open.invoiceId);
    expect(invoices?.[0]).toMatchObject({ invoiceId: open.invoiceId, status: 'paid' });
    await expect(provider.markInvoicePaid(acct, open.invoiceId)).rejects.toMatchObject({
      extensions: { code: 'INVOICE_NOT_OPEN' },
    });
  });

  it('refuses webhook calls without a valid, fresh signature', async () => {
    const hook = stripeWebhookHook(deps, {} as BillingState, provider);
    const [event] = fake.events();
    const call = (body: string, header?: string) =>
      hook({
        method: 'POST',
        path: 'stripe',
        query: new URLSearchParams(),
        headers: header ? { 'stripe-signature': header } : {},
        body: Buffer.from(body),
      });
    const good = fake.signedRequest(event, { secret: WEBHOOK_SECRET });
    expect((await call(good.body)).body).toMatchObject({ error: { code: 'INVALID_SIGNATURE' } });
    const forged = fake.signedRequest(event, { secret: 'whsec_other' });
    expect(await call(forged.body, forged.header)).toMatchObject({
      status: 400,
      body: { error: { code: 'INVALID_SIGNATURE' } },
    });
    expect((await call(`${good.body} `, good.header)).body).toMatchObject({ error: { code: 'INVALID_SIGNATURE' } });
    const old = fake.signedRequest(event, { secret: WEBHOOK_SECRET, timestamp: Math.floor(Date.now() / 1000) - 301 });
    expect(await call(old.body, old.header)).toMatchObject({
      status: 400,
      body: { error: { code: 'STALE_SIGNATURE' } },
    });
    const oldForged = fake.signedRequest(event, { secret: 'whsec_other', timestamp: 1 });
    expect((await call(oldForged.body, oldForged.header)).body).toMatchObject({
      error: { code: 'INVALID_SIGNATURE' },
    });
  });
});
