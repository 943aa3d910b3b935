import type { EntityManager } from 'typeorm';
import { recordEvent } from '../../../kernel/events';
import type { BillingStatus } from '../../../kernel/contracts/events';
import { systemContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { scheduleJob } from '../../../kernel/jobs';
import { logger } from '../../../kernel/log';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import type {
  BillingAccountRecord,
  BillingChanges,
  BillingProvider,
  InvoiceSnapshot,
  PlanRecord,
  SubscriptionSnapshot,
} from './billing.model';
import { loadAccount, loadInvoice, loadPlan, saveAccount, saveInvoice } from './billing.store';

const log = logger('commerce.billing');

/** Statuses under which the plan's modules and limits are granted (past due and unpaid keep them until suspension). */
const GRANTING: readonly BillingStatus[] = ['trialing', 'active', 'past_due', 'unpaid'];
/** Statuses of a subscription that has not ended. */
const RUNNING: readonly BillingStatus[] = [...GRANTING, 'incomplete'];
/** Account fields whose change is audited. */
const AUDITED_FIELDS = [
  'status',
  'planId',
  'interval',
  'cancelAtPeriodEnd',
  'seats',
  'delinquent',
  'subscriptionId',
] as const;

export interface Adjustment {
  kind: 'refund' | 'dispute';
  id: string;
  invoiceId: string | null;
  amount: string;
  currency: string;
  /** refund: succeeded|pending|failed|canceled; dispute: open|won|lost. */
  status: string;
  reason: string | null;
}

/**
 * Stores what the payment provider reports and draws the consequences, whichever provider it is: the plan's grant
 * (`commerce.subscription_changed`), paid invoices (`commerce.invoice_paid`, a ledger transfer), dunning and the
 * tenant's standing (`commerce.billing_standing_changed`), refunds and disputes. Every change is one transaction
 * with its events, so nothing is announced that was not stored, and nothing stored goes unannounced.
 */
export class BillingState {
  constructor(
    private readonly deps: SubgraphDeps,
    private readonly provider: BillingProvider,
  ) {}

  /** Applies a provider's report in a transaction of its own. */
  apply(tenantId: string, changes: BillingChanges, actorId: string | null = null): Promise<BillingAccountRecord> {
    return withTenant(this.deps.ds, systemContext('billing', tenantId), (em) =>
      this.applyIn(em, tenantId, changes, actorId),
    );
  }

  /** Applies a provider's report inside the caller's transaction (which is in the tenant's scope). */
  async applyIn(
    em: EntityManager,
    tenantId: string,
    changes: BillingChanges,
    actorId: string | null = null,
  ): Promise<BillingAccountRecord> {
    const account = await loadAccount(em, tenantId, this.provider.name, true);
    const before = { ...account };
    if (changes.subscription) await this.applySubscription(em, account, changes.subscription, actorId);
    for (const invoice of changes.invoices ?? []) await this.applyInvoice(em, account, invoice, actorId);
    await saveAccount(em, account);
    const changed = Object.fromEntries(
      AUDITED_FIELDS.filter((f) => String(before[f]) !== String(account[f])).map((f) => [
        f,
        { from: before[f], to: account[f] },
      ]),
    );
    if (Object.keys(changed).length)
      await billingAudit(em, tenantId, 'subscription_updated', actorId, account.subscriptionId, changed);
    await this.provider.onApplied?.(em, account, before);
    return account;
  }

  private async applySubscription(
    em: EntityManager,
    account: BillingAccountRecord,
    s: SubscriptionSnapshot,
    actorId: string | null,
  ): Promise<void> {
    // A snapshot of an older subscription than the one on record (a late event) changes nothing.
    if (account.subscriptionId && account.subscriptionId !== s.subscriptionId) {
      if (s.status === 'canceled') return;
      // A second subscription (e.g. two checkouts completed): the one on record stays until it ends.
      if (RUNNING.includes(account.status)) {
        log.error(
          { tenantId: account.tenantId, kept: account.subscriptionId, other: s.subscriptionId },
          'a second running subscription for one tenant: not applied; cancel one at the provider',
        );
        return;
      }
    }
    const granted = (a: Pick<BillingAccountRecord, 'status' | 'planId'>) =>
      GRANTING.includes(a.status) && a.planId ? a.planId : null;
    const grantBefore = granted(account);
    const starts = s.subscriptionId !== account.subscriptionId || !RUNNING.includes(account.status);
    account.customerId = s.customerId;
    account.subscriptionId = s.subscriptionId;
    account.planId = s.planId ?? account.planId;
    account.interval = s.interval ?? account.interval;
    const statusChanged = account.status !== s.status;
    account.status = s.status;
    account.currentPeriodStart = s.currentPeriodStart;
    account.currentPeriodEnd = s.currentPeriodEnd;
    account.trialEnd = s.trialEnd;
    account.cancelAtPeriodEnd = s.cancelAtPeriodEnd;
    account.seats = s.seats;
    const grantAfter = granted(account);
    // Usage from before a subscription starts is nobody's to bill: only usage from its first period on is charged.
    if (starts && RUNNING.includes(s.status) && s.currentPeriodStart)
      await em.query(
        `UPDATE commerce.metered_usage SET reported = amount
          WHERE tenant_id = $1 AND hour < date_trunc('hour', $2::timestamptz) AND amount > reported`,
        [account.tenantId, s.currentPeriodStart],
      );
    if (!statusChanged && grantBefore === grantAfter) return;
    const plan = grantAfter ? await loadPlan(em, grantAfter) : null;
    account.version += 1;
    await recordEvent(em, 'commerce', {
      type: 'commerce.subscription_changed',
      tenantId: account.tenantId,
      payload: {
        tenantId: account.tenantId,
        version: account.version,
        planId: account.planId,
        status: account.status,
        modules: plan?.modules ?? [],
        limits: plan?.limits ?? {},
        trialEnd: account.status === 'trialing' && account.trialEnd ? account.trialEnd.toISOString() : null,
        actorId,
      },
    });
    log.info({ tenantId: account.tenantId, planId: account.planId, status: account.status }, 'subscription changed');
    // An ended subscription may still leave an invoice unpaid: dunning and standing go on until it is settled.
  }

  private async applyInvoice(
    em: EntityManager,
    account: BillingAccountRecord,
    invoice: InvoiceSnapshot,
    actorId: string | null = null,
  ): Promise<void> {
    const stored = await loadInvoice(em, account.tenantId, invoice.invoiceId);
    // Stripe's states only move forward (open → paid/void/uncollectible); a late snapshot of an earlier state is ignored.
    if (stored && stored.status !== 'open' && stored.status !== 'draft' && invoice.status !== stored.status) {
      if (!(stored.status === 'uncollectible' && (invoice.status === 'paid' || invoice.status === 'void'))) return;
    }
    await saveInvoice(em, account.tenantId, invoice);
    const tenantId = account.tenantId;
    if (stored?.status !== invoice.status)
      await billingAudit(em, tenantId, `invoice_${invoice.status}`, actorId, invoice.invoiceId, {
        from: stored?.status ?? null,
        total: invoice.total,
        amountDue: invoice.amountDue,
        currency: invoice.currency,
      });
    if (invoice.status === 'paid' && stored?.status !== 'paid') {
      if (BigInt(invoice.amountPaid) > 0n) {
        await recordEvent(em, 'commerce', {
          type: 'commerce.invoice_paid',
          tenantId,
          payload: {
            tenantId,
            invoiceId: invoice.invoiceId,
            customerId: account.customerId,
            subscriptionId: invoice.subscriptionId,
            amount: invoice.amountPaid,
            currency: invoice.currency,
          },
        });
      }
      log.info({ tenantId, invoiceId: invoice.invoiceId, amount: invoice.amountPaid }, 'invoice paid');
    }
    if (invoice.status === 'paid' || invoice.status === 'void') {
      await this.clearDunning(em, account, invoice.invoiceId);
      return;
    }
    if (invoice.status !== 'open') return;
    await this.scheduleDunning(em, account, invoice);
  }

  /** Starts dunning for an open invoice once it is overdue, unless another invoice is under dunning already. */
  private async scheduleDunning(
    em: EntityManager,
    account: BillingAccountRecord,
    invoice: Pick<InvoiceSnapshot, 'invoiceId' | 'attemptCount' | 'dueAt'>,
  ) {
    const tenantId = account.tenantId;
    // Overdue: a payment attempt failed (the provider retries on its own), or the due date passed (built-in invoicer).
    const overdueAt = invoice.attemptCount > 0 ? new Date() : invoice.dueAt;
    if (!overdueAt || account.dunningInvoiceId) return;
    await scheduleJob(em, 'commerce', {
      name: 'billing-dunning',
      key: `billing-dunning:${tenantId}:${invoice.invoiceId}:0`,
      runAt: overdueAt,
      payload: { tenantId, invoiceId: invoice.invoiceId, step: 0 },
    });
  }

  /**
   * An invoice was settled (paid or voided). If dunning was about it, dunning stops. Then: if another invoice is
   * overdue, it is dunned next (a delinquent tenant stays suspended for it); if none is, the tenant is in good standing.
   */
  private async clearDunning(em: EntityManager, account: BillingAccountRecord, invoiceId: string): Promise<void> {
    if (account.dunningInvoiceId !== invoiceId && !account.delinquent) return;
    if (account.dunningInvoiceId === invoiceId) {
      account.dunningInvoiceId = null;
      account.dunningStartedAt = null;
    }
    const overdue = (await overdueInvoices(em, account.tenantId)).filter((i) => i.invoiceId !== invoiceId);
    if (overdue.length) {
      if (!account.dunningInvoiceId)
        await this.scheduleDunning(em, account, { ...overdue[0], attemptCount: 1, dueAt: null });
      return;
    }
    if (account.delinquent) {
      account.delinquent = false;
      await this.standing(em, account, 'good', invoiceId, 'paid');
    }
  }

  private async standing(
    em: EntityManager,
    account: BillingAccountRecord,
    standing: 'good' | 'delinquent',
    invoiceId: string | null,
    reason: string,
  ): Promise<void> {
    account.version += 1;
    await recordEvent(em, 'commerce', {
      type: 'commerce.billing_standing_changed',
      tenantId: account.tenantId,
      payload: { tenantId: account.tenantId, version: account.version, standing, invoiceId, reason },
    });
    log.info({ tenantId: account.tenantId, standing, invoiceId }, 'billing standing changed');
  }

  /**
   * One dunning step for an unpaid invoice (job `billing-dunning`, in the job's transaction): re-reads the invoice from
   * the provider; if still unpaid, mails the billing contact, and once the grace period is over marks the tenant
   * delinquent (tenancy suspends it). Returns the next step's time, or null when dunning is over.
   */
  async dunningStep(em: EntityManager, tenantId: string, invoiceId: string, step: number): Promise<void> {
    const account = await loadAccount(em, tenantId, this.provider.name, true);
    if (account.dunningInvoiceId && account.dunningInvoiceId !== invoiceId) return;
    // The first step runs once per dunning (a report of the same failed payment schedules it again); a later step
    // only while its dunning goes on.
    if (step === 0 ? account.dunningInvoiceId === invoiceId : account.dunningInvoiceId !== invoiceId) return;
    const current = await this.provider.invoice(account, invoiceId, em);
    if (current) await this.applyInvoice(em, account, current);
    // Uncollectible (the provider gave up retrying) is still owed: only payment or voiding settles it.
    const status = current?.status ?? (await loadInvoice(em, tenantId, invoiceId))?.status;
    const stillOwed = status === 'open' || status === 'uncollectible';
    if (!stillOwed) {
      await saveAccount(em, account);
      return;
    }
    const now = new Date();
    if (!account.dunningInvoiceId) {
      account.dunningInvoiceId = invoiceId;
      account.dunningStartedAt = now;
    }
    const { BILLING_GRACE_SECONDS, BILLING_REMINDER_SECONDS } = this.deps.config.billing;
    const graceEnds = new Date(account.dunningStartedAt!.getTime() + BILLING_GRACE_SECONDS * 1000);
    const amount = current ? `${formatMoney(current.amountDue, current.currency)}` : 'an invoice';
    if (now.getTime() >= graceEnds.getTime()) {
      if (!account.delinquent) {
        account.delinquent = true;
        await this.standing(em, account, 'delinquent', invoiceId, `invoice ${invoiceId} unpaid past the grace period`);
        await this.mail(em, account, `Account suspended: ${amount} unpaid`, [
          `Invoice ${current?.number ?? invoiceId} (${amount}) is still unpaid after the grace period, so the account is suspended.`,
          'Paying it reactivates the account at once.',
          ...(current?.hostedUrl ? [`Pay it here: ${current.hostedUrl}`] : []),
        ]);
      }
      await saveAccount(em, account);
      return;
    }
    await this.mail(em, account, step === 0 ? `Payment failed: ${amount}` : `Reminder: ${amount} unpaid`, [
      `Invoice ${current?.number ?? invoiceId} (${amount}) is unpaid.`,
      `Unless it is paid by ${graceEnds.toISOString()}, the account will be suspended.`,
      ...(current?.hostedUrl ? [`Pay it here: ${current.hostedUrl}`] : []),
    ]);
    await saveAccount(em, account);
    const next = new Date(Math.min(now.getTime() + BILLING_REMINDER_SECONDS * 1000, graceEnds.getTime()));
    await scheduleJob(em, 'commerce', {
      name: 'billing-dunning',
      // A key of its own: this job's row is marked done when it returns.
      key: `billing-dunning:${tenantId}:${invoiceId}:${step + 1}`,
      runAt: next,
      payload: { tenantId, invoiceId, step: step + 1 },
    });
  }

  /** A refund or dispute as the provider reports it: stored, and announced once per state (a ledger transfer). */
  async adjustment(tenantId: string, a: Adjustment): Promise<void> {
    await withTenant(this.deps.ds, systemContext('billing', tenantId), async (em) => {
      // Serialise concurrent reports of one refund or dispute on the account row (the adjustment row may not exist yet).
      await loadAccount(em, tenantId, this.provider.name, true);
      const [prior]: { status: string }[] = await em.query(
        `SELECT status FROM commerce.billing_adjustments WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
        [tenantId, a.id],
      );
      if (prior?.status === a.status) return;
      // A dispute ends once (won or lost); a refund counts once it succeeded.
      if (a.kind === 'dispute' && prior && prior.status !== 'open') return;
      if (a.kind === 'refund' && prior?.status === 'succeeded') return;
      await em.query(
        `INSERT INTO commerce.billing_adjustments (tenant_id, id, kind, invoice_id, amount, currency, status, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (tenant_id, id) DO UPDATE SET status = EXCLUDED.status, amount = EXCLUDED.amount, updated_at = now()`,
        [tenantId, a.id, a.kind, a.invoiceId, a.amount, a.currency, a.status, a.reason],
      );
      await billingAudit(em, tenantId, `${a.kind}_${a.status}`, null, a.id, {
        invoiceId: a.invoiceId,
        amount: a.amount,
        currency: a.currency,
      });
      if (a.kind === 'refund' && a.status === 'succeeded') {
        await recordEvent(em, 'commerce', {
          type: 'commerce.refunded',
          tenantId,
          payload: {
            tenantId,
            refundId: a.id,
            invoiceId: a.invoiceId,
            amount: a.amount,
            currency: a.currency,
            reason: a.reason,
          },
        });
      }
      if (a.kind === 'dispute' && (a.status === 'open' || a.status === 'won' || a.status === 'lost')) {
        // A dispute first seen closed was never announced open: announce it open first, so the ledger moves it both ways.
        if (!prior && a.status !== 'open') await this.disputed(em, tenantId, a, 'open');
        await this.disputed(em, tenantId, a, a.status);
      }
    });
  }

  private async disputed(em: EntityManager, tenantId: string, a: Adjustment, status: 'open' | 'won' | 'lost') {
    await recordEvent(em, 'commerce', {
      type: 'commerce.disputed',
      tenantId,
      payload: { tenantId, disputeId: a.id, invoiceId: a.invoiceId, amount: a.amount, currency: a.currency, status },
    });
  }

  /** The tenant a provider's customer belongs to (null: not one of ours). */
  async tenantOfCustomer(customerId: string): Promise<string | null> {
    const [row]: { tenant: string | null }[] = await this.deps.ds.query(
      `SELECT commerce.tenant_of_customer($1, $2) AS tenant`,
      [this.provider.name, customerId],
    );
    return row?.tenant ?? null;
  }

  /** Records which tenant a new provider customer is (refused if it is already another tenant's). */
  async claimCustomer(em: EntityManager, tenantId: string, customerId: string): Promise<boolean> {
    const [row]: { owner: string }[] = await em.query(`SELECT commerce.claim_customer($1, $2, $3) AS owner`, [
      this.provider.name,
      customerId,
      tenantId,
    ]);
    return row?.owner === tenantId;
  }

  private async mail(em: EntityManager, account: BillingAccountRecord, subject: string, lines: string[]) {
    if (!account.email) {
      log.warn({ tenantId: account.tenantId, subject }, 'billing mail not sent: the account has no billing e-mail');
      return;
    }
    await scheduleJob(em, 'commerce', {
      name: 'billing-mail',
      key: `billing-mail:${account.tenantId}:${Date.now()}:${Math.random().toString(36).slice(2)}`,
      runAt: new Date(),
      payload: { tenantId: account.tenantId, to: account.email, subject, text: lines.join('\n\n') },
    });
  }
}

/** `12.34 EUR` (or `1234 JPY`) from minor units, with the currency's own number of decimals. */
export function formatMoney(minor: string, currency: string): string {
  let digits = 2;
  try {
    digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    // An unknown code: two decimals.
  }
  const v = BigInt(minor);
  if (digits === 0) return `${v} ${currency}`;
  const unit = 10n ** BigInt(digits);
  return `${v / unit}.${String(v % unit).padStart(digits, '0')} ${currency}`;
}

/** Open or uncollectible invoices of the tenant that are overdue (a payment failed, or past their due date), oldest first. */
async function overdueInvoices(em: EntityManager, tenantId: string): Promise<{ invoiceId: string }[]> {
  const rows: { id: string }[] = await em.query(
    `SELECT id FROM commerce.invoices
      WHERE tenant_id = $1 AND (status = 'uncollectible' OR (status = 'open' AND (attempt_count > 0 OR due_at <= now())))
      ORDER BY created_at, id`,
    [tenantId],
  );
  return rows.map((r) => ({ invoiceId: r.id }));
}

/** Records a billing change in the tenant's audit trail (identity's audit log and the tenant's ledger log). */
export async function billingAudit(
  em: EntityManager,
  tenantId: string,
  action: string,
  actorId: string | null,
  target: string | null,
  details: Record<string, unknown>,
): Promise<void> {
  await recordEvent(em, 'commerce', {
    type: 'commerce.billing_changed',
    tenantId,
    payload: {
      tenantId,
      action,
      actorId,
      target,
      details: JSON.parse(JSON.stringify(details)) as Record<string, unknown>,
    },
  });
}

export type { PlanRecord };
