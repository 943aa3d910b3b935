import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { systemContext } from '../kernel/context';
import type { DatabaseHandle } from '../kernel/db/database';
import { createSubgraphDataSource } from '../kernel/db/data-source';
import { withTenant } from '../kernel/db/tenant-scope';
import type { HookResponse } from '../kernel/http/hooks';
import type { SubgraphDeps } from '../kernel/subgraph';
import { startFakeStripe, type FakeEvent, type FakeStripe } from './support/fake-stripe';
import { freshDatabase, testConfig } from './support/platform';
import type { PlanRecord } from '../subgraphs/commerce/billing/billing.model';
import { BillingState } from '../subgraphs/commerce/billing/billing.service';
import { loadAccount, loadInvoices, savePlan } from '../subgraphs/commerce/billing/billing.store';
import { StripeProvider } from '../subgraphs/commerce/billing/stripe/stripe.provider';
import { stripeWebhookHook } from '../subgraphs/commerce/billing/stripe/stripe.webhooks';

const WEBHOOK_SECRET = 'whsec_test';

const plan: PlanRecord = {
  id: 'basic',
  name: 'Basic',
  description: null,
  currency: 'EUR',
  trialDays: 0,
  modules: [],
  limits: {},
  active: true,
  providerPrices: {},
  prices: [
    {
      key: 'nexus_basic_month_flat_x1',
      interval: 'month',
      kind: 'flat',
      metric: null,
      unitAmount: '1000',
      tiers: null,
    },
  ],
};

describe('Stripe webhooks', () => {
  let fake: FakeStripe;
  let db: DatabaseHandle;
  let ds: DataSource;
  let provider: StripeProvider;
  let state: BillingState;
  let hook: ReturnType<typeof stripeWebhookHook>;
  const tenantId = randomUUID();
  let customerId: string;

  const post = (request: { body: string; header: string }): Promise<HookResponse> =>
    hook({
      method: 'POST',
      path: 'stripe',
      query: new URLSearchParams(),
      headers: { 'stripe-signature': request.header },
      body: Buffer.from(request.body),
    });
  const signed = (event: FakeEvent, timestamp?: number) =>
    fake.signedRequest(event, { secret: WEBHOOK_SECRET, ...(timestamp ? { timestamp } : {}) });
  const lastEvent = (type: string) => fake.events(type).at(-1)!;

  beforeAll(async () => {
    fake = await startFakeStripe();
    db = await freshDatabase();
    ds = createSubgraphDataSource({ url: db.url, schema: 'commerce', entities: [], migrations: [], poolSize: 2 });
    await ds.initialize();
    const config = testConfig({
      STRIPE_SECRET_KEY: fake.secretKey,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_API_URL: fake.url,
    });
    const deps = { name: 'commerce', config, ds } as Pick<SubgraphDeps, 'name' | 'config' | 'ds'> as SubgraphDeps;
    provider = new StripeProvider(deps);
    state = new BillingState(deps, provider);
    hook = stripeWebhookHook(deps, state, provider);
    plan.providerPrices = await provider.syncPlan(plan);
    await ds.transaction((em) => savePlan(em, plan));
    const account = await withTenant(ds, systemContext('test', tenantId), (em) => loadAccount(em, tenantId, 'stripe'));
    customerId = await provider.ensureCustomer(account, 'Acme');
    await withTenant(ds, systemContext('test', tenantId), (em) => state.claimCustomer(em, tenantId, customerId));
    const { url } = await provider.startCheckout({
      account: { ...account, customerId },
      plan,
      interval: 'month',
      seats: 1,
      successUrl: 'https://app.example/ok',
      cancelUrl: 'https://app.example/cancel',
    });
    fake.completeCheckout(url.split('/').pop()!);
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.stop();
    await fake?.stop();
  });

  const account = () => withTenant(ds, systemContext('test', tenantId), (em) => loadAccount(em, tenantId, 'stripe'));

  it('applies what Stripe has now, whichever event comes first', async () => {
    // invoice.paid before any subscription event: the subscription is read back with the invoice.
    expect(await post(signed(lastEvent('invoice.paid')))).toEqual({ status: 200, body: { received: true } });
    const a = await account();
    expect(a).toMatchObject({ customerId, planId: 'basic', interval: 'month', status: 'active' });
    const invoices = await withTenant(ds, systemContext('test', tenantId), (em) => loadInvoices(em, tenantId));
    expect(invoices.map((i) => [i.status, i.amountPaid, i.currency])).toEqual([['paid', '1000', 'EUR']]);
    expect((await post(signed(lastEvent('checkout.session.completed')))).status).toBe(200);
    expect((await account()).status).toBe('active');
  });

  it('refuses a replayed request, acknowledges a redelivery once processed', async () => {
    const event = lastEvent('customer.subscription.created');
    const t = Math.floor(Date.now() / 1000) - 10;
    const first = signed(event, t);
    expect(await post(first)).toEqual({ status: 200, body: { received: true } });
    expect(await post(first)).toMatchObject({ status: 400, body: { error: { code: 'REPLAYED' } } });
    // An older signature of the same event is no delivery Stripe would make now either.
    expect((await post(signed(event, t - 5))).body).toMatchObject({ error: { code: 'REPLAYED' } });
    expect(await post(signed(event, t + 5))).toEqual({ status: 200, body: { received: true, duplicate: true } });
  });

  it('processes again an event whose earlier attempt failed', async () => {
    const event = lastEvent('invoice.finalized');
    // The same endpoint, but Stripe cannot be reached: the event is recorded, not processed.
    const unreachable = testConfig({
      STRIPE_SECRET_KEY: fake.secretKey,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_API_URL: 'http://127.0.0.1:9',
    });
    const offline = { name: 'commerce', config: unreachable, ds } as Pick<SubgraphDeps, 'name' | 'config' | 'ds'>;
    const broken = stripeWebhookHook(offline as SubgraphDeps, state, new StripeProvider(offline as SubgraphDeps));
    const t = Math.floor(Date.now() / 1000) - 20;
    const attempt = signed(event, t);
    const failed = await broken({
      method: 'POST',
      path: 'stripe',
      query: new URLSearchParams(),
      headers: { 'stripe-signature': attempt.header },
      body: Buffer.from(attempt.body),
    });
    expect(failed).toMatchObject({ status: 500, body: { error: { code: 'PROCESSING_FAILED' } } });
    expect(await post(signed(event, t + 1))).toEqual({ status: 200, body: { received: true } });
  });

  it('records refunds with their invoice, and ignores customers that are not a tenant', async () => {
    const charge = lastEvent('charge.succeeded').data.object as { id: string };
    fake.refund(charge.id, 400);
    expect(await post(signed(lastEvent('charge.refunded')))).toEqual({ status: 200, body: { received: true } });
    const rows: { kind: string; amount: string; currency: string; status: string; invoice_id: string | null }[] =
      await ds.query(
        `SELECT kind, amount::text AS amount, currency, status, invoice_id FROM commerce.billing_adjustments WHERE tenant_id = $1`,
        [tenantId],
      );
    expect(rows).toEqual([
      {
        kind: 'refund',
        amount: '400',
        currency: 'EUR',
        status: 'succeeded',
        invoice_id: expect.stringMatching(/^in_/),
      },
    ]);
    const stranger = await provider.stripe.customers.create({ email: 'x@example.com' });
    const created = lastEvent('customer.created');
    expect((created.data.object as { id: string }).id).toBe(stranger.id);
    expect(await post(signed(created))).toEqual({ status: 200, body: { received: true, ignored: true } });
  });
});
