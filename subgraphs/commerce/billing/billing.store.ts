import type { EntityManager } from 'typeorm';
import type { BillingStatus } from '../../../kernel/contracts/events';
import type {
  BillingAccountRecord,
  BillingInterval,
  InvoiceLineSnapshot,
  InvoiceSnapshot,
  InvoiceStatus,
  PlanPrice,
  PlanRecord,
} from './billing.model';

/** Reading and writing billing rows: the only place that knows their columns. */

interface AccountRow {
  tenant_id: string;
  version: number;
  provider: 'stripe' | 'builtin';
  customer_id: string | null;
  email: string | null;
  plan_id: string | null;
  interval: BillingInterval | null;
  status: BillingStatus;
  subscription_id: string | null;
  current_period_start: Date | null;
  current_period_end: Date | null;
  trial_end: Date | null;
  cancel_at_period_end: boolean;
  seats: number;
  delinquent: boolean;
  dunning_invoice_id: string | null;
  dunning_started_at: Date | null;
}

const toAccount = (r: AccountRow): BillingAccountRecord => ({
  tenantId: r.tenant_id,
  version: r.version,
  provider: r.provider,
  customerId: r.customer_id,
  email: r.email,
  planId: r.plan_id,
  interval: r.interval,
  status: r.status,
  subscriptionId: r.subscription_id,
  currentPeriodStart: r.current_period_start,
  currentPeriodEnd: r.current_period_end,
  trialEnd: r.trial_end,
  cancelAtPeriodEnd: r.cancel_at_period_end,
  seats: r.seats,
  delinquent: r.delinquent,
  dunningInvoiceId: r.dunning_invoice_id,
  dunningStartedAt: r.dunning_started_at,
});

/** The tenant's billing account, created (no subscription) the first time; `lock` holds it until the transaction ends. */
export async function loadAccount(
  em: EntityManager,
  tenantId: string,
  provider: 'stripe' | 'builtin',
  lock = false,
): Promise<BillingAccountRecord> {
  await em.query(
    `INSERT INTO commerce.billing_accounts (tenant_id, provider) VALUES ($1, $2) ON CONFLICT (tenant_id) DO NOTHING`,
    [tenantId, provider],
  );
  const [row]: AccountRow[] = await em.query(
    `SELECT * FROM commerce.billing_accounts WHERE tenant_id = $1${lock ? ' FOR UPDATE' : ''}`,
    [tenantId],
  );
  return toAccount(row);
}

/** Writes every field of the account (the caller changed what it meant to). */
export async function saveAccount(em: EntityManager, a: BillingAccountRecord): Promise<void> {
  await em.query(
    `UPDATE commerce.billing_accounts SET version = $2, provider = $3, customer_id = $4, email = $5, plan_id = $6,
            interval = $7, status = $8, subscription_id = $9, current_period_start = $10, current_period_end = $11,
            trial_end = $12, cancel_at_period_end = $13, seats = $14, delinquent = $15, dunning_invoice_id = $16,
            dunning_started_at = $17, updated_at = now()
      WHERE tenant_id = $1`,
    [
      a.tenantId,
      a.version,
      a.provider,
      a.customerId,
      a.email,
      a.planId,
      a.interval,
      a.status,
      a.subscriptionId,
      a.currentPeriodStart,
      a.currentPeriodEnd,
      a.trialEnd,
      a.cancelAtPeriodEnd,
      a.seats,
      a.delinquent,
      a.dunningInvoiceId,
      a.dunningStartedAt,
    ],
  );
}

interface PlanRow {
  id: string;
  name: string;
  description: string | null;
  currency: string;
  trial_days: number;
  modules: string[];
  limits: Record<string, number>;
  prices: PlanPrice[];
  active: boolean;
  provider_prices: Record<string, string>;
}

const toPlan = (r: PlanRow): PlanRecord => ({
  id: r.id,
  name: r.name,
  description: r.description,
  currency: r.currency,
  trialDays: r.trial_days,
  modules: r.modules,
  limits: r.limits,
  prices: r.prices,
  active: r.active,
  providerPrices: r.provider_prices,
});

export async function loadPlans(em: EntityManager, activeOnly: boolean): Promise<PlanRecord[]> {
  const rows: PlanRow[] = await em.query(
    `SELECT * FROM commerce.plans ${activeOnly ? 'WHERE active' : ''} ORDER BY created_at, id`,
  );
  return rows.map(toPlan);
}

export async function loadPlan(em: EntityManager, id: string): Promise<PlanRecord | null> {
  const [row]: PlanRow[] = await em.query(`SELECT * FROM commerce.plans WHERE id = $1`, [id]);
  return row ? toPlan(row) : null;
}

export async function savePlan(em: EntityManager, p: PlanRecord): Promise<void> {
  await em.query(
    `INSERT INTO commerce.plans (id, name, description, currency, trial_days, modules, limits, prices, active, provider_prices)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description, currency = EXCLUDED.currency,
        trial_days = EXCLUDED.trial_days, modules = EXCLUDED.modules, limits = EXCLUDED.limits, prices = EXCLUDED.prices,
        active = EXCLUDED.active, provider_prices = EXCLUDED.provider_prices, updated_at = now()`,
    [
      p.id,
      p.name,
      p.description,
      p.currency,
      p.trialDays,
      p.modules,
      JSON.stringify(p.limits),
      JSON.stringify(p.prices),
      p.active,
      JSON.stringify(p.providerPrices),
    ],
  );
}

/** Adds provider price ids learnt by a sync (keeps ids of other keys). */
export async function saveProviderPrices(
  em: EntityManager,
  planId: string,
  ids: Record<string, string>,
): Promise<void> {
  await em.query(
    `UPDATE commerce.plans SET provider_prices = provider_prices || $2::jsonb, synced_at = now() WHERE id = $1`,
    [planId, JSON.stringify(ids)],
  );
}

interface InvoiceRow {
  id: string;
  subscription_id: string | null;
  number: string | null;
  status: InvoiceStatus;
  currency: string;
  subtotal: string;
  total: string;
  amount_due: string;
  amount_paid: string;
  period_start: Date;
  period_end: Date;
  due_at: Date | null;
  paid_at: Date | null;
  hosted_url: string | null;
  pdf_url: string | null;
  attempt_count: number;
  next_attempt_at: Date | null;
  lines: (Omit<InvoiceLineSnapshot, 'periodStart' | 'periodEnd'> & { periodStart: string; periodEnd: string })[];
  created_at: Date;
}

const toInvoice = (r: InvoiceRow): InvoiceSnapshot => ({
  invoiceId: r.id,
  subscriptionId: r.subscription_id,
  number: r.number,
  status: r.status,
  currency: r.currency,
  subtotal: r.subtotal,
  total: r.total,
  amountDue: r.amount_due,
  amountPaid: r.amount_paid,
  periodStart: r.period_start,
  periodEnd: r.period_end,
  dueAt: r.due_at,
  paidAt: r.paid_at,
  hostedUrl: r.hosted_url,
  pdfUrl: r.pdf_url,
  attemptCount: r.attempt_count,
  nextAttemptAt: r.next_attempt_at,
  lines: r.lines.map((l) => ({ ...l, periodStart: new Date(l.periodStart), periodEnd: new Date(l.periodEnd) })),
  createdAt: r.created_at,
});

const INVOICE_COLUMNS = `id, subscription_id, number, status, currency, subtotal::text AS subtotal, total::text AS total,
  amount_due::text AS amount_due, amount_paid::text AS amount_paid, period_start, period_end, due_at, paid_at, hosted_url,
  pdf_url, attempt_count, next_attempt_at, lines, created_at`;

export async function loadInvoices(
  em: EntityManager,
  tenantId: string,
  options: { first?: number; status?: InvoiceStatus[] } = {},
): Promise<InvoiceSnapshot[]> {
  const rows: InvoiceRow[] = await em.query(
    `SELECT ${INVOICE_COLUMNS} FROM commerce.invoices WHERE tenant_id = $1 ${options.status ? 'AND status = ANY($3)' : ''}
      ORDER BY created_at DESC, id DESC LIMIT $2`,
    [tenantId, options.first ?? 100, ...(options.status ? [options.status] : [])],
  );
  return rows.map(toInvoice);
}

export async function loadInvoice(em: EntityManager, tenantId: string, id: string): Promise<InvoiceSnapshot | null> {
  const [row]: InvoiceRow[] = await em.query(
    `SELECT ${INVOICE_COLUMNS} FROM commerce.invoices WHERE tenant_id = $1 AND id = $2`,
    [tenantId, id],
  );
  return row ? toInvoice(row) : null;
}

export async function saveInvoice(em: EntityManager, tenantId: string, i: InvoiceSnapshot): Promise<void> {
  await em.query(
    `INSERT INTO commerce.invoices (tenant_id, id, subscription_id, number, status, currency, subtotal, total, amount_due,
            amount_paid, period_start, period_end, due_at, paid_at, hosted_url, pdf_url, attempt_count, next_attempt_at, lines, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
     ON CONFLICT (tenant_id, id) DO UPDATE SET subscription_id = EXCLUDED.subscription_id, number = EXCLUDED.number,
        status = EXCLUDED.status, currency = EXCLUDED.currency, subtotal = EXCLUDED.subtotal, total = EXCLUDED.total,
        amount_due = EXCLUDED.amount_due, amount_paid = EXCLUDED.amount_paid, period_start = EXCLUDED.period_start,
        period_end = EXCLUDED.period_end, due_at = EXCLUDED.due_at, paid_at = EXCLUDED.paid_at, hosted_url = EXCLUDED.hosted_url,
        pdf_url = EXCLUDED.pdf_url, attempt_count = EXCLUDED.attempt_count, next_attempt_at = EXCLUDED.next_attempt_at,
        lines = EXCLUDED.lines, updated_at = now()`,
    [
      tenantId,
      i.invoiceId,
      i.subscriptionId,
      i.number,
      i.status,
      i.currency,
      i.subtotal,
      i.total,
      i.amountDue,
      i.amountPaid,
      i.periodStart,
      i.periodEnd,
      i.dueAt,
      i.paidAt,
      i.hostedUrl,
      i.pdfUrl,
      i.attemptCount,
      i.nextAttemptAt,
      JSON.stringify(i.lines),
      i.createdAt,
    ],
  );
}

/** Whether the tenant's rows were purged (asked before entering its scope: events and jobs that come late write nothing). */
export async function isPurged(em: EntityManager, tenantId: string): Promise<boolean> {
  const rows: unknown[] = await em.query(`SELECT 1 FROM commerce.purged_tenants WHERE owner_tenant = $1`, [tenantId]);
  return rows.length > 0;
}

/** Metered usage of a tenant in [from, to) by metric, as tenancy counted it (what `usage` shows). */
export async function meteredTotals(
  em: EntityManager,
  tenantId: string,
  from: Date,
  to: Date,
): Promise<Record<string, bigint>> {
  const rows: { metric: string; total: string }[] = await em.query(
    `SELECT metric, sum(amount)::text AS total FROM commerce.metered_usage
      WHERE tenant_id = $1 AND hour >= $2 AND hour < $3 GROUP BY metric`,
    [tenantId, from, to],
  );
  return Object.fromEntries(rows.map((r) => [r.metric, BigInt(r.total)]));
}

export async function memberCount(em: EntityManager, tenantId: string): Promise<number> {
  const [row]: { n: number }[] = await em.query(
    `SELECT count(*)::int AS n FROM commerce.members WHERE tenant_id = $1`,
    [tenantId],
  );
  return row?.n ?? 0;
}
