import {
  BillingAccountDocument,
  BillingPortalUrlDocument,
  InvoicesDocument,
  LedgerAccountsDocument,
  LedgerEntriesDocument,
  ModulesDocument,
  RoomsDocument,
  StartCheckoutDocument,
  UsageDocument,
} from './generated/graphql';
import { BUSINESS_PLAN, TEAM_PLAN, createPlan, operator, until } from './support/billing';
import type { User } from './support/client';
import { startFakeStripe, type FakeEvent, type FakeStripe, type FakeSubscription } from './support/fake-stripe';
import { uniqueEmail } from './support/fixtures';
import { codes } from './support/gql';
import { startTestPlatform, type TestPlatform } from './support/platform';

/**
 * Billing with Stripe: the same lifecycle as with the built-in invoicer, through the gateway, with the real Stripe
 * SDK against a fake Stripe that serves the API and delivers signed webhooks to the platform.
 */
let t: TestPlatform;
let fake: FakeStripe;
let op: User;
const OPERATOR = uniqueEmail('billing-ops');
const APP = 'http://localhost:3000';
const WEBHOOK_SECRET = 'whsec_test123';
let hookUrl: string;

beforeAll(async () => {
  fake = await startFakeStripe();
  t = await startTestPlatform(undefined, {
    SUPER_ADMIN_EMAILS: OPERATOR,
    APP_URL: APP,
    STRIPE_SECRET_KEY: fake.secretKey,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_API_URL: fake.url,
    BILLING_GRACE_SECONDS: '3',
    BILLING_REMINDER_SECONDS: '1',
    BILLING_USAGE_REPORT_SECONDS: '0',
    USAGE_FLUSH_MS: '200',
    JOB_POLL_MS: '200',
  });
  hookUrl = t.gatewayUrl.replace(/\/graphql$/, '/hooks/commerce/stripe');
  fake.deliverTo(hookUrl, WEBHOOK_SECRET);
  op = await operator(t, OPERATOR);
  await createPlan(op, TEAM_PLAN);
  await createPlan(op, BUSINESS_PLAN);
}, 90_000);
afterAll(async () => {
  await t?.stop();
  await fake?.stop();
});

function data<T>(r: { data?: T | null; errors?: unknown }): T {
  if (!r.data) throw new Error(JSON.stringify(r.errors));
  return r.data;
}
const account = (u: User) => u.gql(BillingAccountDocument, {}).then((r) => data(r).billingAccount);
const invoices = (u: User) => u.gql(InvoicesDocument, { first: 20 }).then((r) => data(r).invoices);
const installed = (u: User) =>
  u.gql(ModulesDocument, {}).then((r) =>
    data(r)
      .modules.filter((m) => m.installed)
      .map((m) => m.id),
  );
const messageLimit = (u: User) =>
  u.gql(UsageDocument, {}).then((r) => data(r).usage.metrics.find((m) => m.metric === 'MESSAGES')!);
const ledgerEntries = (u: User, type: string) =>
  u.gql(LedgerEntriesDocument, { filter: { type }, first: 50 }).then((r) => data(r).ledgerEntries.nodes);

/** The fake's subscription made for a tenant at checkout. */
function subscriptionOf(tenantId: string): FakeSubscription {
  const sub = fake.subscriptions().find((s) => s.metadata?.tenantId === tenantId);
  if (!sub) throw new Error(`no Stripe subscription for tenant ${tenantId}`);
  return sub;
}
const customerOf = (sub: FakeSubscription): string => sub.customer;

/** Starts a checkout for the team plan; the id of the fake's checkout session (the last segment of its URL). */
async function startCheckout(owner: User): Promise<string> {
  const res = await owner.gql(StartCheckoutDocument, { planId: 'team', interval: 'MONTH' });
  const url = data(res).startCheckout.url;
  expect(url.startsWith(`${fake.url}/checkout/`)).toBe(true);
  return url.split('/').pop()!;
}

/** A new tenant whose checkout was paid and whose subscription the platform knows as active. */
async function subscribed(name: string): Promise<{ owner: User; sub: FakeSubscription; customerId: string }> {
  const owner = await t.signUp(name);
  fake.completeCheckout(await startCheckout(owner));
  await fake.idle();
  await until(
    () => account(owner),
    (a) => a.status === 'ACTIVE',
  );
  const sub = subscriptionOf(owner.tenantId);
  return { owner, sub, customerId: customerOf(sub) };
}

async function post(body: string, header: string): Promise<{ status: number; code?: string }> {
  const res = await fetch(hookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': header },
    body,
  });
  const json = (await res.json()) as { error?: { code: string } };
  return { status: res.status, code: json.error?.code };
}

/** The latest event of a type about a customer's objects. */
function eventOf(type: string, customerId: string): FakeEvent {
  const found = fake
    .events(type)
    .filter((e) => (e.data.object as { customer?: unknown }).customer === customerId)
    .pop();
  if (!found) throw new Error(`no ${type} event for ${customerId}`);
  return found;
}

describe('Stripe billing', () => {
  it('checkout on Stripe activates the subscription, records the paid first invoice and grants the plan', async () => {
    const owner = await t.signUp('Stripe Checkout Co');
    expect(await installed(owner)).not.toContain('ai-assistant');
    const sessionId = await startCheckout(owner);
    // Nothing changes before the customer pays.
    expect((await account(owner)).status).not.toBe('ACTIVE');
    fake.completeCheckout(sessionId);
    await fake.idle();
    const acc = await until(
      () => account(owner),
      (a) => a.status === 'ACTIVE',
    );
    expect(acc).toMatchObject({ provider: 'stripe', interval: 'MONTH', seats: 1, delinquent: false });
    expect(acc.plan!.id).toBe('team');
    const [first] = await until(
      () => invoices(owner),
      (list) => list.length === 1 && list[0].status === 'PAID',
    );
    expect(first).toMatchObject({ currency: 'EUR', total: '3400', amountPaid: '3400' });
    await until(
      () => installed(owner),
      (ids) => ids.includes('ai-assistant'),
    );
    await until(
      () => messageLimit(owner),
      (m) => Number(m.limit) === 500,
    );
  });

  it('reports metered usage to Stripe and the next invoice bills what usage shows', async () => {
    const { owner, sub, customerId } = await subscribed('Stripe Chatty Co');
    const roomId = await owner.createRoom('metered');
    for (let i = 0; i < 15; i++) await owner.postMessage(roomId, `m${i}`);
    const used = await until(
      () => messageLimit(owner),
      (m) => Number(m.used) === 15,
    );
    const to = Math.floor(Date.now() / 1000) + 3600;
    await until(
      async () => fake.meterEventTotal(customerId, 'nexus_messages', 0, to),
      (total) => total === 15,
      20_000,
    );
    const invoice = fake.advancePeriod(sub.id);
    expect(invoice).not.toBeNull();
    await fake.idle();
    const list = await until(
      () => invoices(owner),
      (l) => l.some((i) => i.id === invoice!.id),
    );
    const second = list.find((i) => i.id === invoice!.id)!;
    const metered = second.lines.find((l) => l.kind === 'metered')!;
    expect(metered).toMatchObject({ quantity: String(used.used), amount: '10' });
    expect(metered.quantity).toBe('15');
  });

  it('refuses forged, stale and replayed webhooks and changes nothing', async () => {
    const { owner, customerId } = await subscribed('Stripe Signed Co');
    const before = await account(owner);
    const event = eventOf('customer.subscription.updated', customerId);
    const nowSeconds = Math.floor(Date.now() / 1000);

    const forged = fake.signedRequest(event, { secret: 'whsec_wrong' });
    expect(await post(forged.body, forged.header)).toEqual({ status: 400, code: 'INVALID_SIGNATURE' });

    const stale = fake.signedRequest(event, { timestamp: nowSeconds - 301 });
    expect(await post(stale.body, stale.header)).toEqual({ status: 400, code: 'STALE_SIGNATURE' });

    const fresh = fake.signedRequest(event, { timestamp: nowSeconds + 1 });
    expect((await post(fresh.body, fresh.header)).status).toBe(200);
    expect(await post(fresh.body, fresh.header)).toEqual({ status: 400, code: 'REPLAYED' });

    expect(await account(owner)).toEqual(before);
  });

  it('ends in the right state when events arrive out of order, and ignores a redelivered event', async () => {
    const owner = await t.signUp('Stripe Shuffled Co');
    const sessionId = await startCheckout(owner);
    fake.setDeliveryMode('manual');
    try {
      const sub = fake.completeCheckout(sessionId);
      const deliveries = await fake.flush('reverse');
      const types = deliveries.map((d) => d.type);
      expect(types.indexOf('invoice.paid')).toBeLessThan(types.indexOf('customer.subscription.created'));
      expect(deliveries.every((d) => d.status === 200)).toBe(true);
      await until(
        () => account(owner),
        (a) => a.status === 'ACTIVE',
      );
      const [first] = await until(
        () => invoices(owner),
        (l) => l.length === 1 && l[0].status === 'PAID',
      );
      expect(first.total).toBe('3400');
      const paid = await until(
        () => ledgerEntries(owner, 'commerce.invoice_paid'),
        (nodes) => nodes.length === 1,
      );
      expect(paid[0].payload).toMatchObject({ invoiceId: first.id, amount: '3400' });

      // Stripe signs a delivery attempt anew: a redelivery carries a later timestamp (seconds) than the first one.
      await new Promise((r) => setTimeout(r, 1100));
      const again = await fake.redeliver(eventOf('invoice.paid', customerOf(sub)).id);
      expect(again.status).toBe(200);
      expect(await invoices(owner)).toHaveLength(1);
      // Give the bus time to carry anything a duplicate would have published.
      await new Promise((r) => setTimeout(r, 1500));
      expect(await ledgerEntries(owner, 'commerce.invoice_paid')).toHaveLength(1);
    } finally {
      fake.setDeliveryMode('auto');
    }
  });

  it('a failed renewal puts the tenant in dunning, suspends it after the grace period, and payment reactivates it', async () => {
    const { owner, sub, customerId } = await subscribed('Stripe Late Payers');
    fake.failPayments(customerId, true);
    const invoice = fake.advancePeriod(sub.id)!;
    await fake.idle();
    const open = await until(
      () => invoices(owner),
      (l) => l.some((i) => i.id === invoice.id && i.status === 'OPEN'),
    );
    expect(open.find((i) => i.id === invoice.id)!.attemptCount).toBeGreaterThanOrEqual(1);
    await until(
      () => account(owner),
      (a) => a.dunningInvoiceId === invoice.id,
    );
    const refused = await until(
      () => owner.gql(RoomsDocument, {}),
      (r) => codes(r).includes('TENANT_SUSPENDED'),
      20_000,
    );
    expect(codes(refused)).toEqual(['TENANT_SUSPENDED']);
    // Billing stays open to a suspended tenant.
    expect((await account(owner)).delinquent).toBe(true);

    fake.failPayments(customerId, false);
    fake.retryInvoice(invoice.id, true);
    await fake.idle();
    await until(
      () => invoices(owner),
      (l) => l.some((i) => i.id === invoice.id && i.status === 'PAID'),
    );
    await until(
      () => owner.gql(RoomsDocument, {}),
      (r) => !r.errors,
      20_000,
    );
    expect((await account(owner)).delinquent).toBe(false);
  }, 60_000);

  it('books a refund made on Stripe in the tenant’s ledger', async () => {
    const { owner, customerId } = await subscribed('Stripe Refunded Co');
    const charge = fake
      .events('charge.succeeded')
      .map((e) => e.data.object as { id: string; customer?: unknown })
      .find((c) => c.customer === customerId);
    expect(charge).toBeDefined();
    const balance = async () => {
      const res = await owner.gql(LedgerAccountsDocument, { filter: { currency: 'EUR' }, first: 50 });
      return data(res).ledgerAccounts.find((a) => a.code === 'billing.payments')?.balance ?? null;
    };
    const paidBalance = await until(balance, (b) => b !== null && b !== '0');
    const refund = fake.refund(charge!.id);
    await fake.idle();
    const refunded = await until(
      () => ledgerEntries(owner, 'commerce.refunded'),
      (nodes) => nodes.length === 1,
    );
    expect(refunded[0].payload).toMatchObject({ refundId: refund.id, amount: '3400', currency: 'EUR' });
    await until(balance, (b) => b !== paidBalance);
  });

  it('opens the Stripe billing portal and keeps each tenant’s billing to itself and to billing:manage', async () => {
    const { owner } = await subscribed('Stripe Private Co');
    const portal = data(await owner.gql(BillingPortalUrlDocument, {})).billingPortalUrl;
    expect(portal.startsWith(`${fake.url}/portal/`)).toBe(true);

    const stranger = await t.signUp('Stripe Stranger Co');
    const mine = (await invoices(owner)).map((i) => i.id);
    expect(mine.length).toBeGreaterThan(0);
    expect((await invoices(stranger)).map((i) => i.id).filter((id) => mine.includes(id))).toEqual([]);
    expect((await account(stranger)).status).toBe('NONE');

    const member = await owner.invite('member');
    expect(codes(await member.gql(StartCheckoutDocument, { planId: 'team', interval: 'MONTH' }))).toEqual([
      'FORBIDDEN',
    ]);
  });
});
