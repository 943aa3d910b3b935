import type { DataSource, EntityManager } from 'typeorm';
import type { SubgraphDeps } from '../../../../kernel/subgraph';
import { CommerceErrorCode } from '../../commerce.errors';
import type { BillingAccountRecord, InvoiceSnapshot, PlanRecord } from '../billing.model';
import {
  advanceLines,
  customerIdOf,
  invoiceNumber,
  issueInvoice,
  meteredLines,
  periodEndChanges,
  snapshotOf,
  type PeriodFacts,
} from './builtin.period';
import { BuiltinProvider, prorationLine } from './builtin.provider';

const TENANT = '1a2b3c4d-0000-4000-8000-000000000001';
const DAY = 86_400_000;

const plan = (over: Partial<PlanRecord> = {}): PlanRecord => ({
  id: 'pro',
  name: 'Pro',
  description: null,
  currency: 'EUR',
  trialDays: 0,
  modules: ['messaging'],
  limits: {},
  prices: [
    { key: 'pro-m', interval: 'month', kind: 'flat', metric: null, unitAmount: '3000', tiers: null },
    { key: 'pro-seat-m', interval: 'month', kind: 'seat', metric: null, unitAmount: '500', tiers: null },
    {
      key: 'pro-api-m',
      interval: 'month',
      kind: 'metered',
      metric: 'api_calls',
      unitAmount: null,
      tiers: [
        { upTo: 1000, unitAmount: '0', flatAmount: '0' },
        { upTo: null, unitAmount: '2', flatAmount: '0' },
      ],
    },
    { key: 'pro-y', interval: 'year', kind: 'flat', metric: null, unitAmount: '30000', tiers: null },
  ],
  active: true,
  providerPrices: {},
  ...over,
});

const account = (over: Partial<BillingAccountRecord> = {}): BillingAccountRecord => ({
  tenantId: TENANT,
  version: 3,
  provider: 'builtin',
  customerId: customerIdOf(TENANT),
  email: 'billing@example.com',
  planId: 'pro',
  interval: 'month',
  status: 'active',
  subscriptionId: 'sub_1',
  currentPeriodStart: new Date('2025-03-01T00:00:00Z'),
  currentPeriodEnd: new Date('2025-04-01T00:00:00Z'),
  trialEnd: null,
  cancelAtPeriodEnd: false,
  seats: 2,
  delinquent: false,
  dunningInvoiceId: null,
  dunningStartedAt: null,
  ...over,
});

const invoiceRow = (over: Partial<Record<string, unknown>> = {}) => ({
  id: 'in_1',
  subscription_id: 'sub_1',
  number: invoiceNumber(TENANT, 1),
  status: 'open',
  currency: 'EUR',
  subtotal: '4000',
  total: '4000',
  amount_due: '4000',
  amount_paid: '0',
  period_start: new Date('2025-03-01T00:00:00Z'),
  period_end: new Date('2025-04-01T00:00:00Z'),
  due_at: new Date(Date.now() + DAY),
  paid_at: null,
  hosted_url: null,
  pdf_url: null,
  attempt_count: 0,
  next_attempt_at: null,
  lines: [],
  created_at: new Date('2025-03-01T00:00:00Z'),
  ...over,
});

type Answer = (sql: string, params: unknown[]) => unknown[] | undefined;

/**
 * A provider over a stand-in database: every statement is recorded and answered by `answer` (the tenant-scope
 * settings and anything unanswered give no rows). Enough for the provider's own reads; storage is BillingState's.
 */
function provider(answer: Answer = () => undefined, billing: { BILLING_PERIOD_SECONDS?: number } = {}) {
  const statements: { sql: string; params: unknown[] }[] = [];
  const em = {
    query: async (sql: string, params: unknown[] = []) => {
      statements.push({ sql, params });
      return answer(sql, params) ?? [];
    },
  };
  const ds = { transaction: async <T>(work: (e: typeof em) => Promise<T>) => work(em) };
  const deps = {
    ds: ds as unknown as DataSource,
    config: { billing: { BILLING_INVOICE_DUE_SECONDS: 7 * 86_400, ...billing } },
  } as unknown as SubgraphDeps;
  return { builtin: new BuiltinProvider(deps), statements, em };
}

const countIs =
  (n: number): Answer =>
  (sql) =>
    sql.includes('count(*)') ? [{ n }] : undefined;

describe('BuiltinProvider: customers, plans, portal', () => {
  it('has nothing to sync: each price is known by its key', async () => {
    const { builtin, statements } = provider();
    expect(builtin.name).toBe('builtin');
    expect(await builtin.syncPlan(plan())).toEqual({
      'pro-m': 'builtin:pro-m',
      'pro-seat-m': 'builtin:pro-seat-m',
      'pro-api-m': 'builtin:pro-api-m',
      'pro-y': 'builtin:pro-y',
    });
    expect(statements).toHaveLength(0);
  });

  it('derives the customer from the tenant, the same every time', async () => {
    const { builtin } = provider();
    const first = await builtin.ensureCustomer(account({ customerId: null }));
    expect(first).toBe('cust_1a2b3c4d000040008000000000000001');
    expect(await builtin.ensureCustomer(account({ customerId: null }))).toBe(first);
  });

  it('has no customer portal', async () => {
    expect(await provider().builtin.portalUrl()).toBeNull();
  });
});

describe('BuiltinProvider.startCheckout', () => {
  const request = (p: PlanRecord) => ({
    account: account({ status: 'none', subscriptionId: null, planId: null, interval: null }),
    plan: p,
    interval: 'month' as const,
    seats: 3,
    successUrl: 'https://app.example/billing?ok',
    cancelUrl: 'https://app.example/billing',
  });

  it('starts a trial at once, without an invoice', async () => {
    const { builtin } = provider();
    const before = Date.now();
    const { url, changes } = await builtin.startCheckout(request(plan({ trialDays: 14 })));
    expect(url).toBe('https://app.example/billing?ok');
    const s = changes.subscription!;
    expect(s.status).toBe('trialing');
    expect(s.subscriptionId).toMatch(/^sub_[0-9a-f]{24}$/);
    // Periods start on the hour (usage is counted in hourly buckets).
    expect(s.currentPeriodStart!.getTime()).toBe(Math.floor(before / 3_600_000) * 3_600_000);
    expect(s.currentPeriodEnd!.getTime() - s.currentPeriodStart!.getTime()).toBe(14 * DAY);
    expect(s.trialEnd).toEqual(s.currentPeriodEnd);
    expect(s).toMatchObject({ planId: 'pro', interval: 'month', seats: 3, cancelAtPeriodEnd: false });
    expect(changes.invoices ?? []).toHaveLength(0);
  });

  it('starts an active subscription with a first invoice of the period in advance', async () => {
    const { builtin } = provider(countIs(4));
    const { changes } = await builtin.startCheckout(request(plan()));
    const s = changes.subscription!;
    expect(s.status).toBe('active');
    expect(s.trialEnd).toBeNull();
    const [first] = changes.invoices!;
    expect(first.invoiceId).toMatch(/^in_[0-9a-f]{24}$/);
    expect(first.number).toBe('NEX-1A2B3C4D-0005');
    expect(first.subscriptionId).toBe(s.subscriptionId);
    expect(first.status).toBe('open');
    // 30.00 flat + 3 seats × 5.00; the metered price is invoiced at the period's end.
    expect(first.lines.map((l) => [l.kind, l.quantity, l.amount])).toEqual([
      ['flat', '1', '3000'],
      ['seat', '3', '1500'],
    ]);
    expect(first).toMatchObject({ subtotal: '4500', total: '4500', amountDue: '4500', amountPaid: '0' });
    expect(first.dueAt!.getTime() - first.createdAt.getTime()).toBe(7 * DAY);
    expect(first.periodStart).toEqual(s.currentPeriodStart);
    expect(first.periodEnd).toEqual(s.currentPeriodEnd);
  });

  it('ends the first period after BILLING_PERIOD_SECONDS when set', async () => {
    const { builtin } = provider(countIs(0), { BILLING_PERIOD_SECONDS: 120 });
    const { changes } = await builtin.startCheckout(request(plan()));
    const s = changes.subscription!;
    expect(s.currentPeriodEnd!.getTime() - s.currentPeriodStart!.getTime()).toBe(120_000);
  });

  it('issues a free plan’s first invoice as paid', async () => {
    const { builtin } = provider(countIs(0));
    const { changes } = await builtin.startCheckout(request(plan({ prices: [] })));
    const [first] = changes.invoices!;
    expect(first).toMatchObject({ status: 'paid', total: '0', dueAt: null });
    expect(first.paidAt).toEqual(first.createdAt);
  });
});

describe('invoice lines', () => {
  const start = new Date('2025-03-01T00:00:00Z');
  const end = new Date('2025-04-01T00:00:00Z');

  it('charges flat prices once and seat prices per seat, of the interval only', () => {
    expect(advanceLines(plan(), 'year', start, end, 9).map((l) => l.amount)).toEqual(['30000']);
    const monthly = advanceLines(plan(), 'month', start, end, 0);
    expect(monthly.map((l) => [l.kind, l.quantity, l.unitAmount, l.amount])).toEqual([
      ['flat', '1', '3000', '3000'],
      ['seat', '0', '500', '0'],
    ]);
  });

  it('charges metered usage by the price tiers, with no unit amount on a tiered line', () => {
    const [api] = meteredLines(plan(), 'month', start, end, { api_calls: 1500n, messages: 7n });
    expect(api).toMatchObject({ kind: 'metered', metric: 'api_calls', quantity: '1500', unitAmount: null });
    expect(api.amount).toBe('1000');
    expect(meteredLines(plan(), 'month', start, end, {})[0].amount).toBe('0');
  });

  it('numbers invoices per tenant', () => {
    expect(invoiceNumber(TENANT, 1)).toBe('NEX-1A2B3C4D-0001');
    expect(invoiceNumber(TENANT, 12345)).toBe('NEX-1A2B3C4D-12345');
  });

  it('builds an upcoming invoice as an unnumbered draft', () => {
    const draft = issueInvoice({
      tenantId: TENANT,
      subscriptionId: 'sub_1',
      currency: 'EUR',
      invoiceCount: 3,
      lines: [],
      periodStart: start,
      periodEnd: end,
      now: start,
      dueSeconds: 60,
      preview: true,
    });
    expect(draft).toMatchObject({ invoiceId: 'upcoming', number: null, status: 'draft', dueAt: null, paidAt: null });
  });
});

describe('the end of a period', () => {
  const now = new Date('2025-04-01T00:00:05Z');
  const terms = { periodSeconds: null, dueSeconds: 7 * 86_400 };
  const facts = (over: Partial<PeriodFacts> = {}): PeriodFacts => ({
    account: account(),
    plan: plan(),
    usage: { api_calls: 3000n },
    seats: 4,
    invoiceCount: 1,
    overdue: false,
    ...over,
  });

  it('invoices usage of the ended period and the next period in advance, and starts the next period', () => {
    const { subscription, invoices } = periodEndChanges(facts(), terms, now);
    expect(subscription).toMatchObject({
      status: 'active',
      currentPeriodStart: new Date('2025-04-01T00:00:00Z'),
      currentPeriodEnd: new Date('2025-05-01T00:00:00Z'),
      seats: 4,
    });
    const [invoice] = invoices!;
    expect(invoice.lines.map((l) => [l.kind, l.quantity, l.amount, l.periodStart.toISOString()])).toEqual([
      ['metered', '3000', '4000', '2025-03-01T00:00:00.000Z'],
      ['flat', '1', '3000', '2025-04-01T00:00:00.000Z'],
      ['seat', '4', '2000', '2025-04-01T00:00:00.000Z'],
    ]);
    expect(invoice).toMatchObject({ status: 'open', total: '9000', number: 'NEX-1A2B3C4D-0002' });
    expect(invoice.periodStart).toEqual(new Date('2025-03-01T00:00:00Z'));
    expect(invoice.periodEnd).toEqual(new Date('2025-04-01T00:00:00Z'));
  });

  it('charges nothing for usage during a trial, and the subscription becomes active', () => {
    const trial = account({ status: 'trialing', trialEnd: new Date('2025-04-01T00:00:00Z') });
    const { subscription, invoices } = periodEndChanges(facts({ account: trial }), terms, now);
    expect(subscription!.status).toBe('active');
    expect(invoices![0].lines.map((l) => l.kind)).toEqual(['flat', 'seat']);
  });

  it('ends a subscription set to cancel, with a last invoice for its usage only', () => {
    const cancelling = account({ cancelAtPeriodEnd: true });
    const { subscription, invoices } = periodEndChanges(facts({ account: cancelling }), terms, now);
    expect(subscription).toMatchObject({ status: 'canceled', currentPeriodEnd: cancelling.currentPeriodEnd });
    expect(invoices!.map((i) => i.lines.map((l) => l.kind))).toEqual([['metered']]);
    expect(invoices![0].total).toBe('4000');
  });

  it('issues no last invoice when the last period used nothing billable', () => {
    const cancelling = account({ cancelAtPeriodEnd: true });
    const { invoices } = periodEndChanges(facts({ account: cancelling, usage: { api_calls: 10n } }), terms, now);
    expect(invoices).toEqual([]);
  });

  it('marks the subscription past due while an earlier invoice is overdue', () => {
    expect(periodEndChanges(facts({ overdue: true }), terms, now).subscription!.status).toBe('past_due');
    const recovered = account({ status: 'past_due' });
    expect(periodEndChanges(facts({ account: recovered }), terms, now).subscription!.status).toBe('active');
  });

  it('starts a period of the new interval after a plan change kept the old one', () => {
    const yearly = account({ interval: 'year' });
    const { subscription, invoices } = periodEndChanges(facts({ account: yearly }), terms, now);
    expect(subscription!.currentPeriodEnd).toEqual(new Date('2026-04-01T00:00:00Z'));
    expect(invoices![0].lines.map((l) => l.amount)).toEqual(['30000']);
  });
});

describe('plan changes', () => {
  const start = new Date('2025-03-01T00:00:00Z');
  const end = new Date('2025-03-31T00:00:00Z'); // 30 days
  const now = new Date('2025-03-21T00:00:00Z'); // 10 days left: a third
  const basic = plan({
    id: 'basic',
    name: 'Basic',
    prices: [{ key: 'b-m', interval: 'month', kind: 'flat', metric: null, unitAmount: '900', tiers: null }],
  });
  const change = (from: PlanRecord | null, to: PlanRecord, toInterval: 'month' | 'year' = 'month') =>
    prorationLine({
      from,
      fromInterval: 'month',
      to,
      toInterval,
      seats: 2,
      periodStart: start,
      periodEnd: end,
      now,
      periodSeconds: null,
    });

  it('charges the new plan for the rest of the period, less the unused old plan', () => {
    // Pro: 3000 + 2 × 500 = 4000 a month → 1333 for a third; Basic 900 → 300 unused.
    const line = change(basic, plan())!;
    expect(line).toMatchObject({ kind: 'proration', quantity: '1', amount: String(1333n - 300n) });
    expect(line.periodStart).toEqual(now);
    expect(line.periodEnd).toEqual(end);
  });

  it('gives nothing back on a downgrade (no balance is kept)', () => {
    expect(change(plan(), basic)).toBeNull();
  });

  it('prices a change of interval by the time left against one new interval', () => {
    // 30000 a year over 10 days of a 365-day year: 821.9… → 822; less 1333 unused of Pro monthly → nothing owed.
    expect(change(plan(), plan(), 'year')).toBeNull();
    // From Basic (300 unused): 822 − 300.
    expect(change(basic, plan(), 'year')!.amount).toBe(String(822n - 300n));
  });

  it('changes the plan without an invoice during a trial', async () => {
    const { builtin, statements } = provider();
    const changes = await builtin.changePlan(account({ status: 'trialing' }), basic, 'month');
    expect(changes.subscription).toMatchObject({ planId: 'basic', interval: 'month', status: 'trialing' });
    expect(changes.invoices).toBeUndefined();
    expect(statements).toHaveLength(0);
  });

  it('invoices a positive proration at once, keeping the period', async () => {
    const pro = plan();
    const { builtin } = provider((sql) => {
      if (sql.includes('count(*)')) return [{ n: 2 }];
      if (sql.includes('FROM commerce.plans'))
        return [
          {
            id: basic.id,
            name: basic.name,
            description: null,
            currency: 'EUR',
            trial_days: 0,
            modules: [],
            limits: {},
            prices: basic.prices,
            active: true,
            provider_prices: {},
          },
        ];
      return undefined;
    });
    const periodEnd = new Date(Date.now() + 10 * DAY);
    const current = account({
      planId: 'basic',
      currentPeriodStart: new Date(periodEnd.getTime() - 30 * DAY),
      currentPeriodEnd: periodEnd,
    });
    const { subscription, invoices } = await builtin.changePlan(current, pro, 'month');
    expect(subscription).toMatchObject({ planId: 'pro', currentPeriodEnd: periodEnd, status: 'active' });
    expect(invoices).toHaveLength(1);
    expect(invoices![0]).toMatchObject({ status: 'open', number: 'NEX-1A2B3C4D-0003' });
    expect(BigInt(invoices![0].total)).toBeGreaterThan(1000n);
  });
});

describe('subscription settings', () => {
  it('sets cancel at period end and seats on the running subscription', async () => {
    const { builtin } = provider();
    expect((await builtin.setCancelAtPeriodEnd(account(), true)).subscription).toMatchObject({
      subscriptionId: 'sub_1',
      cancelAtPeriodEnd: true,
      status: 'active',
    });
    expect((await builtin.setSeats(account(), 7)).subscription).toMatchObject({ seats: 7, cancelAtPeriodEnd: false });
  });

  it('refuses without a running subscription', () => {
    for (const a of [account({ subscriptionId: null }), account({ status: 'canceled' }), account({ status: 'none' })]) {
      expect(() => snapshotOf(a)).toThrow(
        expect.objectContaining({ extensions: expect.objectContaining({ code: CommerceErrorCode.NO_SUBSCRIPTION }) }),
      );
    }
  });
});

describe('BuiltinProvider.markInvoicePaid', () => {
  const stored = (row: ReturnType<typeof invoiceRow>, open: ReturnType<typeof invoiceRow>[] = [row]): Answer => {
    return (sql, params) => {
      if (!sql.includes('FROM commerce.invoices')) return undefined;
      if (sql.includes('status = ANY')) return open;
      return params[1] === row.id ? [row] : [];
    };
  };

  it('settles an open invoice in full', async () => {
    const { builtin } = provider(stored(invoiceRow()));
    const changes = await builtin.markInvoicePaid(account(), 'in_1');
    const [paid] = changes.invoices as InvoiceSnapshot[];
    expect(paid).toMatchObject({ invoiceId: 'in_1', status: 'paid', amountPaid: '4000', total: '4000' });
    expect(paid.paidAt).toBeInstanceOf(Date);
    expect(changes.subscription).toBeUndefined();
  });

  it('puts a past-due subscription back in order once nothing else is overdue', async () => {
    const overdue = invoiceRow({ due_at: new Date(Date.now() - DAY) });
    const { builtin } = provider(stored(overdue));
    const changes = await builtin.markInvoicePaid(account({ status: 'past_due' }), 'in_1');
    expect(changes.subscription!.status).toBe('active');
  });

  it('keeps it past due while another invoice is overdue', async () => {
    const overdue = invoiceRow({ due_at: new Date(Date.now() - DAY) });
    const other = invoiceRow({ id: 'in_2', due_at: new Date(Date.now() - 2 * DAY) });
    const { builtin } = provider(stored(overdue, [overdue, other]));
    const changes = await builtin.markInvoicePaid(account({ status: 'past_due' }), 'in_1');
    expect(changes.subscription).toBeUndefined();
  });

  it('refuses an invoice that is not open, or unknown', async () => {
    const { builtin } = provider(stored(invoiceRow({ status: 'paid' })));
    await expect(builtin.markInvoicePaid(account(), 'in_1')).rejects.toMatchObject({
      extensions: { code: CommerceErrorCode.INVOICE_NOT_OPEN },
    });
    await expect(builtin.markInvoicePaid(account(), 'in_404')).rejects.toMatchObject({
      extensions: { code: CommerceErrorCode.INVOICE_NOT_FOUND },
    });
  });
});

describe('BuiltinProvider.onApplied', () => {
  const scheduled = (statements: { sql: string; params: unknown[] }[]) =>
    statements.filter((s) => s.sql.includes('schedule_job')).map((s) => s.params);

  it('schedules the end of a new current period, keyed by the period', async () => {
    const { builtin, statements, em } = provider();
    const after = account();
    const before = account({ status: 'none', subscriptionId: null, currentPeriodEnd: null });
    await builtin.onApplied(em as unknown as EntityManager, after, before);
    expect(scheduled(statements)).toEqual([
      [
        'billing-period-end',
        `billing-period-end:${TENANT}:2025-04-01T00:00:00.000Z`,
        JSON.stringify({ tenantId: TENANT, periodEnd: '2025-04-01T00:00:00.000Z' }),
        // Two minutes after the end: the last hour's usage has arrived by then.
        new Date('2025-04-01T00:02:00Z'),
      ],
    ]);
  });

  it('does nothing when the period did not change, or the subscription ended', async () => {
    const { builtin, statements, em } = provider();
    await builtin.onApplied(em as unknown as EntityManager, account({ seats: 9 }), account());
    await builtin.onApplied(em as unknown as EntityManager, account({ status: 'canceled' }), account());
    expect(scheduled(statements)).toEqual([]);
  });
});
