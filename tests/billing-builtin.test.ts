import {
  BillingAccountDocument,
  BillingPortalUrlDocument,
  CancelSubscriptionDocument,
  DeleteTenantDocument,
  ChangePlanDocument,
  InvoicesDocument,
  MarkInvoicePaidDocument,
  ModulesDocument,
  PlansDocument,
  ResumeSubscriptionDocument,
  RoomsDocument,
  SetBillingEmailDocument,
  StartCheckoutDocument,
  UpcomingInvoiceDocument,
  UsageDocument,
  LedgerEntriesDocument,
} from './generated/graphql';
import { BUSINESS_PLAN, TEAM_PLAN, createPlan, operator, until } from './support/billing';
import type { User } from './support/client';
import { sqlOn } from './support/db';
import { uniqueEmail } from './support/fixtures';
import { codes } from './support/gql';
import { waitForMail } from './support/mailbox';
import { startTestPlatform, type TestPlatform } from './support/platform';

/**
 * Billing without a Stripe account: the built-in invoicer starts subscriptions, issues invoices from plans and usage,
 * runs dunning, and an operator records payments. The same lifecycle as with Stripe, through the gateway.
 */
let t: TestPlatform;
let op: User;
const OPERATOR = uniqueEmail('billing-ops');
const APP = 'http://localhost:3000';

beforeAll(async () => {
  t = await startTestPlatform(undefined, {
    SUPER_ADMIN_EMAILS: OPERATOR,
    APP_URL: APP,
    BILLING_INVOICE_DUE_SECONDS: '2',
    BILLING_GRACE_SECONDS: '3',
    BILLING_REMINDER_SECONDS: '1',
    USAGE_FLUSH_MS: '200',
    JOB_POLL_MS: '200',
  });
  op = await operator(t, OPERATOR);
  await createPlan(op, TEAM_PLAN);
  await createPlan(op, BUSINESS_PLAN);
}, 90_000);
afterAll(async () => {
  await t?.stop();
});

function data<T>(r: { data?: T | null; errors?: unknown }): T {
  if (!r.data) throw new Error(JSON.stringify(r.errors));
  return r.data;
}
const account = (u: User) => u.gql(BillingAccountDocument, {}).then((r) => data(r).billingAccount);
const invoices = (u: User) => u.gql(InvoicesDocument, { first: 20 }).then((r) => data(r).invoices);
const installed = (u: User) =>
  u.gql(ModulesDocument, {}).then((r) => r.data!.modules.filter((m) => m.installed).map((m) => m.id));
const messageLimit = (u: User) =>
  u.gql(UsageDocument, {}).then((r) => r.data!.usage.metrics.find((m) => m.metric === 'MESSAGES')!);

/** A new tenant subscribed to the team plan; its first invoice paid by the operator unless told otherwise. */
async function subscribed(
  name: string,
  pay = true,
  billingEmail?: string,
): Promise<{ owner: User; firstInvoice: string }> {
  const owner = await t.signUp(name);
  // Before checkout: the first invoice is due within seconds here, and dunning mails whoever is the contact then.
  if (billingEmail) {
    const set = await owner.gql(SetBillingEmailDocument, { email: billingEmail });
    if (set.data?.setBillingEmail.email !== billingEmail) throw new Error(JSON.stringify(set.errors));
  }
  const res = await owner.gql(StartCheckoutDocument, { planId: 'team', interval: 'MONTH' });
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  const [first] = await invoices(owner);
  if (pay) await op.gql(MarkInvoicePaidDocument, { tenantId: owner.tenantId, invoiceId: first.id });
  return { owner, firstInvoice: first.id };
}

describe('built-in invoicer', () => {
  it('lists active plans to tenants and keeps the catalogue to operators', async () => {
    const owner = await t.signUp('Window Shoppers');
    const plans = data(await owner.gql(PlansDocument, {})).plans;
    expect(plans.map((p) => p.id)).toEqual(['team', 'business']);
    expect(plans[0].prices.map((p) => [p.kind, p.unitAmount])).toEqual([
      ['FLAT', '2900'],
      ['SEAT', '500'],
      ['METERED', null],
    ]);
    expect(codes(await owner.gql(MarkInvoicePaidDocument, { tenantId: owner.tenantId, invoiceId: 'in_x' }))).toEqual([
      'FORBIDDEN',
    ]);
    expect((await account(owner)).status).toBe('NONE');
  });

  it('checkout starts the subscription, issues the first invoice and grants the plan’s modules and quotas', async () => {
    const owner = await t.signUp('Checkout Co');
    expect(await installed(owner)).not.toContain('ai-assistant');
    const res = await owner.gql(StartCheckoutDocument, {
      planId: 'team',
      interval: 'MONTH',
      successUrl: `${APP}/billing/done`,
    });
    expect(res.errors).toBeUndefined();
    expect(res.data!.startCheckout.url).toBe(`${APP}/billing/done`);
    const acc = res.data!.startCheckout.account;
    expect(acc).toMatchObject({ provider: 'builtin', status: 'ACTIVE', interval: 'MONTH', seats: 1 });
    expect(acc.plan!.id).toBe('team');
    const [first] = await invoices(owner);
    expect(first).toMatchObject({ status: 'OPEN', currency: 'EUR', total: '3400', amountDue: '3400', amountPaid: '0' });
    expect(first.lines.map((l) => [l.kind, l.quantity, l.amount])).toEqual([
      ['flat', '1', '2900'],
      ['seat', '1', '500'],
    ]);
    await until(
      () => installed(owner),
      (ids) => ids.includes('ai-assistant'),
    );
    await until(
      () => messageLimit(owner),
      (m) => Number(m.limit) === 500,
    );
    // A second checkout while subscribed is refused; return URLs must stay on the console.
    expect(codes(await owner.gql(StartCheckoutDocument, { planId: 'team', interval: 'MONTH' }))).toEqual([
      'ALREADY_SUBSCRIBED',
    ]);
    const other = await t.signUp('Phish Co');
    expect(
      codes(
        await other.gql(StartCheckoutDocument, {
          planId: 'team',
          interval: 'MONTH',
          successUrl: 'https://evil.test/x',
        }),
      ),
    ).toEqual(['INVALID_BILLING_INPUT']);
    expect(codes(await other.gql(StartCheckoutDocument, { planId: 'team', interval: 'YEAR' }))).toEqual([
      'INTERVAL_NOT_OFFERED',
    ]);
    expect(codes(await other.gql(BillingPortalUrlDocument, {}))).toEqual(['NO_PORTAL']);
  });

  it('lets a tenant whose trial ended back in once it subscribes, and ends the platform trial of a subscriber', async () => {
    const owner = await t.signUp('Expired Trial Co');
    await sqlOn(
      t.databaseUrl,
      `UPDATE tenancy.tenants SET status = 'trial_expired', trial_ends_at = now() - interval '1 second' WHERE tenant_id = $1`,
      [owner.tenantId],
    );
    await until(
      () => owner.gql(RoomsDocument, {}),
      (r) => codes(r).includes('TRIAL_EXPIRED'),
      40_000,
    );
    // Billing stays open to it, and subscribing lifts the trial's end.
    expect(
      data(await owner.gql(StartCheckoutDocument, { planId: 'team', interval: 'MONTH' })).startCheckout.account.status,
    ).toBe('ACTIVE');
    await until(
      () => owner.gql(RoomsDocument, {}),
      (r) => !r.errors,
      40_000,
    );
    const [row] = await sqlOn(t.databaseUrl, `SELECT status, trial_ends_at FROM tenancy.tenants WHERE tenant_id = $1`, [
      owner.tenantId,
    ]);
    expect(row).toEqual({ status: 'active', trial_ends_at: null });
  }, 90_000);

  it('invoices metered usage equal to what usage shows for the period, to the unit', async () => {
    const { owner } = await subscribed('Chatty Co');
    const roomId = await owner.createRoom('metered');
    for (let i = 0; i < 15; i++) await owner.postMessage(roomId, `m${i}`);
    const used = await until(
      () => messageLimit(owner),
      (m) => Number(m.used) === 15,
    );
    const upcoming = await until(
      () => owner.gql(UpcomingInvoiceDocument, {}).then((r) => r.data!.upcomingInvoice!),
      (inv) => inv.lines.some((l) => l.kind === 'metered' && l.quantity === '15'),
    );
    expect(upcoming.status).toBe('DRAFT');
    // The period ends (its job is due now): the invoice has the period's usage in arrears and the next period ahead.
    const periodEnd = (await account(owner)).currentPeriodEnd!;
    await sqlOn(
      t.databaseUrl,
      `UPDATE commerce.jobs SET run_at = now() WHERE name = 'billing-period-end' AND payload->>'tenantId' = $1`,
      [owner.tenantId],
    );
    const [second] = await until(
      () => invoices(owner),
      (list) => list.length === 2,
    );
    const metered = second.lines.find((l) => l.kind === 'metered')!;
    expect(metered).toMatchObject({ metric: 'MESSAGES', quantity: String(used.used), amount: '10' });
    expect(second.lines.filter((l) => l.kind !== 'metered').map((l) => [l.kind, l.amount])).toEqual([
      ['flat', '2900'],
      ['seat', '500'],
    ]);
    expect(second.total).toBe('3410');
    expect(new Date(second.lines.find((l) => l.kind === 'flat')!.periodStart).toISOString()).toBe(
      new Date(periodEnd).toISOString(),
    );
    expect(new Date((await account(owner)).currentPeriodStart!).toISOString()).toBe(new Date(periodEnd).toISOString());
  });

  it('changes plan with a prorated invoice, cancels at period end and resumes', async () => {
    const { owner } = await subscribed('Growing Co');
    const changed = await owner.gql(ChangePlanDocument, { planId: 'business', interval: 'MONTH' });
    expect(changed.errors).toBeUndefined();
    expect(changed.data!.changePlan.plan!.id).toBe('business');
    const list = await invoices(owner);
    expect(list).toHaveLength(2);
    expect(list[0].lines.map((l) => l.kind)).toEqual(['proration']);
    expect(BigInt(list[0].total as string)).toBeGreaterThan(0n);
    expect(BigInt(list[0].total as string)).toBeLessThanOrEqual(7000n);
    await until(
      () => messageLimit(owner),
      (m) => Number(m.limit) === 5000,
    );
    expect((await owner.gql(CancelSubscriptionDocument, {})).data!.cancelSubscription.cancelAtPeriodEnd).toBe(true);
    expect((await owner.gql(ResumeSubscriptionDocument, {})).data!.resumeSubscription.cancelAtPeriodEnd).toBe(false);
  });

  it('ends a cancelled subscription with its period: the grant is taken back and the tenant is left without a plan until it subscribes again', async () => {
    const { owner } = await subscribed('Leaving Co');
    await until(
      () => installed(owner),
      (ids) => ids.includes('ai-assistant'),
    );
    await owner.gql(CancelSubscriptionDocument, {});
    await sqlOn(
      t.databaseUrl,
      `UPDATE commerce.jobs SET run_at = now() WHERE name = 'billing-period-end' AND payload->>'tenantId' = $1`,
      [owner.tenantId],
    );
    await until(
      () => account(owner),
      (a) => a.status === 'CANCELED',
    );
    // Without a plan the tenant is where a trial's end leaves it: refused, except billing.
    await until(
      () => owner.gql(RoomsDocument, {}),
      (r) => codes(r).includes('TRIAL_EXPIRED'),
    );
    const modules = await until(
      () => sqlOn(t.databaseUrl, `SELECT module_id FROM tenancy.tenant_modules WHERE tenant_id = $1`, [owner.tenantId]),
      (rows) => !rows.some((r) => r.module_id === 'ai-assistant'),
    );
    expect(modules.map((r) => r.module_id)).not.toContain('ai-assistant');
    const [limits] = await sqlOn(t.databaseUrl, `SELECT limits FROM tenancy.tenant_limits WHERE tenant_id = $1`, [
      owner.tenantId,
    ]);
    expect((limits?.limits as Record<string, number> | undefined)?.messages).toBeUndefined();
    // Subscribing again (no second trial) lets it back in.
    const again = data(await owner.gql(StartCheckoutDocument, { planId: 'team', interval: 'MONTH' })).startCheckout;
    expect(again.account.status).toBe('ACTIVE');
    await until(
      () => owner.gql(RoomsDocument, {}),
      (r) => !r.errors,
    );
  });

  it('a paid overdue invoice ends the suspension even when the next invoice is issued but not yet due', async () => {
    const { owner, firstInvoice } = await subscribed('Catching Up', false);
    await until(
      () => owner.gql(RoomsDocument, {}),
      (r) => codes(r).includes('TENANT_SUSPENDED'),
      20_000,
    );
    // The next period's invoice is issued (not due for a while), then the overdue one is paid.
    await sqlOn(
      t.databaseUrl,
      `UPDATE commerce.jobs SET run_at = now() WHERE name = 'billing-period-end' AND payload->>'tenantId' = $1`,
      [owner.tenantId],
    );
    const [next] = await until(
      () => invoices(owner),
      (list) => list.length === 2,
    );
    await sqlOn(t.databaseUrl, `UPDATE commerce.invoices SET due_at = now() + interval '1 day' WHERE id = $1`, [
      next.id,
    ]);
    await op.gql(MarkInvoicePaidDocument, { tenantId: owner.tenantId, invoiceId: firstInvoice });
    await until(
      () => owner.gql(RoomsDocument, {}),
      (r) => !r.errors,
      20_000,
    );
    expect(await account(owner)).toMatchObject({ delinquent: false, dunningInvoiceId: null });
  }, 60_000);

  it('dunning: an unpaid invoice mails reminders, suspends the tenant after the grace period, and payment reactivates it', async () => {
    const email = uniqueEmail('accounts');
    const { owner, firstInvoice } = await subscribed('Late Payers', false, email);
    expect((await account(owner)).email).toBe(email);
    await waitForMail(t.config, email, 'Payment failed: 34.00 EUR', 1, 10_000);
    await until(
      () => account(owner),
      (a) => a.dunningInvoiceId === firstInvoice,
    );
    const refused = await until(
      () => owner.gql(RoomsDocument, {}),
      (r) => codes(r).includes('TENANT_SUSPENDED'),
      20_000,
    );
    expect(codes(refused)).toEqual(['TENANT_SUSPENDED']);
    await waitForMail(t.config, email, 'Account suspended: 34.00 EUR unpaid');
    // Billing stays open to a suspended tenant: it can see what it owes.
    const suspended = await account(owner);
    expect(suspended.delinquent).toBe(true);
    expect((await invoices(owner))[0]).toMatchObject({ id: firstInvoice, status: 'OPEN' });
    // Cancelling does not settle what is owed: the subscription ends, the tenant stays suspended.
    await owner.gql(CancelSubscriptionDocument, {});
    await sqlOn(
      t.databaseUrl,
      `UPDATE commerce.jobs SET run_at = now() WHERE name = 'billing-period-end' AND payload->>'tenantId' = $1`,
      [owner.tenantId],
    );
    await until(
      () => account(owner),
      (a) => a.status === 'CANCELED',
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(await account(owner)).toMatchObject({ delinquent: true, dunningInvoiceId: firstInvoice });
    expect(codes(await owner.gql(RoomsDocument, {}))).toEqual(['TENANT_SUSPENDED']);
    const paid = await op.gql(MarkInvoicePaidDocument, { tenantId: owner.tenantId, invoiceId: firstInvoice });
    expect(paid.data!.markInvoicePaid).toMatchObject({ status: 'PAID', amountPaid: '3400' });
    await until(
      () => owner.gql(RoomsDocument, {}),
      (r) => !r.errors,
      20_000,
    );
    expect((await account(owner)).delinquent).toBe(false);
    // The payment is on the tenant's ledger.
    const entries = await until(
      () => owner.gql(LedgerEntriesDocument, { filter: { type: 'commerce.invoice_paid' }, first: 10 }),
      (r) => (r.data?.ledgerEntries.nodes.length ?? 0) === 1,
    );
    expect(entries.data!.ledgerEntries.nodes[0].payload).toMatchObject({ invoiceId: firstInvoice, amount: '3400' });
    expect(codes(await op.gql(MarkInvoicePaidDocument, { tenantId: owner.tenantId, invoiceId: firstInvoice }))).toEqual(
      ['INVOICE_NOT_OPEN'],
    );
  }, 60_000);

  it('charges seats for members as they join, and ends the subscription of a deleted tenant with its period', async () => {
    const { owner } = await subscribed('Seats Co');
    expect((await account(owner)).seats).toBe(1);
    await owner.invite('member');
    await until(
      () => account(owner),
      (a) => a.seats === 2,
    );
    const upcoming = data(await owner.gql(UpcomingInvoiceDocument, {})).upcomingInvoice!;
    expect(upcoming.lines.find((l) => l.kind === 'seat')).toMatchObject({ quantity: '2', amount: '1000' });
    expect(data(await owner.gql(DeleteTenantDocument, { id: owner.tenantId })).deleteTenant.status).toBe('DELETED');
    const ended = await until(
      () =>
        sqlOn(t.databaseUrl, `SELECT cancel_at_period_end FROM commerce.billing_accounts WHERE tenant_id = $1`, [
          owner.tenantId,
        ]),
      (rows) => rows[0]?.cancel_at_period_end === true,
    );
    expect(ended).toHaveLength(1);
  });

  it('keeps every tenant’s billing to itself and billing:manage to those who hold it', async () => {
    const { owner } = await subscribed('Private Co');
    const member = await owner.invite('member');
    const stranger = await t.signUp('Stranger Co');
    const mine = (await invoices(owner)).map((i) => i.id);
    expect(mine.length).toBeGreaterThan(0);
    expect((await invoices(stranger)).map((i) => i.id).filter((id) => mine.includes(id))).toEqual([]);
    expect((await account(stranger)).status).toBe('NONE');
    // An invoice id of another tenant is not found under one's own tenant.
    expect(codes(await op.gql(MarkInvoicePaidDocument, { tenantId: stranger.tenantId, invoiceId: mine[0] }))).toEqual([
      'INVOICE_NOT_FOUND',
    ]);
    for (const res of [
      await member.gql(StartCheckoutDocument, { planId: 'team', interval: 'MONTH' }),
      await member.gql(CancelSubscriptionDocument, {}),
      await member.gql(ChangePlanDocument, { planId: 'business', interval: 'MONTH' }),
      await member.gql(SetBillingEmailDocument, { email: 'x@example.test' }),
    ])
      expect(codes(res)).toEqual(['FORBIDDEN']);
  });
});
