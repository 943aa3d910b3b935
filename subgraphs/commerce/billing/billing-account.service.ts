import { systemContext, type RequestContext } from '../../../kernel/context';
import { isUuid } from '../../../kernel/db/values';
import { logger } from '../../../kernel/log';
import { withTenant } from '../../../kernel/db/tenant-scope';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { CommerceErrorCode, commerceError } from '../commerce.errors';
import type {
  BillingAccountRecord,
  BillingInterval,
  BillingProvider,
  InvoiceSnapshot,
  PlanRecord,
} from './billing.model';
import { billingAudit, type BillingState } from './billing.service';
import { loadAccount, loadInvoice, loadInvoices, memberCount, saveAccount } from './billing.store';
import type { PlanService } from './plan.service';

const log = logger('commerce.billing');
const EMAIL = /^[^\s@<>",;]{1,64}@[^\s@<>",;]{1,253}$/;
/** Statuses of a subscription that still runs (changing plan, cancelling and resuming apply to it). */
const RUNNING = new Set(['trialing', 'active', 'past_due', 'unpaid', 'incomplete']);

/** Where the tenant is sent back to after checkout or the portal, unless the client names a page of the console. */
function returnUrl(appUrl: string, given: string | null | undefined, fallback: string): string {
  const url = given ?? new URL(fallback, appUrl).toString();
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw commerceError(CommerceErrorCode.INVALID_BILLING_INPUT, 'Return URLs are absolute URLs');
  }
  // Only back to the console: a checkout must never send the tenant's user to someone else's page.
  if (parsed.origin !== new URL(appUrl).origin)
    throw commerceError(CommerceErrorCode.INVALID_BILLING_INPUT, `Return URLs are pages of ${new URL(appUrl).origin}`);
  return url;
}

/**
 * The current tenant's billing (`billing:read` / `billing:manage`): its account, checkout, plan changes, cancelling,
 * invoices. Provider calls happen outside any transaction; what they report is stored by BillingState.
 */
export class BillingAccountService {
  constructor(
    private readonly deps: SubgraphDeps,
    private readonly provider: BillingProvider,
    private readonly state: BillingState,
    private readonly plans: PlanService,
  ) {}

  account(ctx: RequestContext): Promise<BillingAccountRecord> {
    return withTenant(this.deps.ds, ctx, (em, tenantId) => loadAccount(em, tenantId, this.provider.name));
  }

  invoices(ctx: RequestContext, first: number): Promise<InvoiceSnapshot[]> {
    const n = Math.max(1, Math.min(100, Math.trunc(first) || 20));
    return withTenant(this.deps.ds, ctx, (em, tenantId) => loadInvoices(em, tenantId, { first: n }));
  }

  async upcomingInvoice(ctx: RequestContext): Promise<InvoiceSnapshot | null> {
    const account = await this.account(ctx);
    if (!account.subscriptionId || !RUNNING.has(account.status)) return null;
    return this.provider.upcomingInvoice(account);
  }

  async setEmail(ctx: RequestContext, email: string | null): Promise<BillingAccountRecord> {
    const value = email === null ? null : email.trim();
    if (value !== null && !EMAIL.test(value))
      throw commerceError(CommerceErrorCode.INVALID_BILLING_INPUT, 'email: one e-mail address');
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const account = await loadAccount(em, tenantId, this.provider.name, true);
      if (account.email !== value)
        // The audit trail reaches the append-only ledger log: it says that the contact changed, never the address.
        await billingAudit(em, tenantId, 'email_set', ctx.userId, null, { set: value !== null });
      account.email = value;
      await saveAccount(em, account);
      return account;
    });
  }

  async startCheckout(
    ctx: RequestContext,
    planId: string,
    interval: BillingInterval,
    urls: { successUrl?: string | null; cancelUrl?: string | null },
  ): Promise<{ url: string; account: BillingAccountRecord }> {
    const appUrl = this.deps.config.mail.APP_URL;
    const successUrl = returnUrl(appUrl, urls.successUrl, '/billing?checkout=success');
    const cancelUrl = returnUrl(appUrl, urls.cancelUrl, '/billing?checkout=cancelled');
    const plan = await this.offered(planId, interval);
    let account = await this.account(ctx);
    if (account.subscriptionId && RUNNING.has(account.status))
      throw commerceError(CommerceErrorCode.ALREADY_SUBSCRIBED);
    account = await this.customer(ctx, account);
    const seats = await withTenant(this.deps.ds, ctx, (em, tenantId) => memberCount(em, tenantId));
    const synced = await this.plans.synced(plan);
    const { url, changes } = await this.provider.startCheckout({
      account,
      // A trial is for a tenant's first subscription only.
      plan: account.subscriptionId ? { ...synced, trialDays: 0 } : synced,
      interval,
      seats: Math.max(1, seats),
      successUrl,
      cancelUrl,
    });
    account = await this.state.apply(account.tenantId, changes, ctx.userId);
    return { url, account };
  }

  async portalUrl(ctx: RequestContext, given: string | null | undefined): Promise<string> {
    const url = returnUrl(this.deps.config.mail.APP_URL, given, '/billing');
    const account = await this.customer(ctx, await this.account(ctx));
    const portal = await this.provider.portalUrl(account, url);
    if (!portal) throw commerceError(CommerceErrorCode.NO_PORTAL);
    return portal;
  }

  async changePlan(ctx: RequestContext, planId: string, interval: BillingInterval): Promise<BillingAccountRecord> {
    const account = await this.running(ctx);
    if (account.planId === planId && account.interval === interval)
      throw commerceError(CommerceErrorCode.INVALID_BILLING_INPUT, 'The tenant is on this plan already');
    const plan = await this.plans.synced(await this.offered(planId, interval));
    return this.state.apply(account.tenantId, await this.provider.changePlan(account, plan, interval), ctx.userId);
  }

  async setCancelAtPeriodEnd(ctx: RequestContext, cancel: boolean): Promise<BillingAccountRecord> {
    const account = await this.running(ctx);
    if (account.cancelAtPeriodEnd === cancel) return account;
    return this.state.apply(account.tenantId, await this.provider.setCancelAtPeriodEnd(account, cancel), ctx.userId);
  }

  private async running(ctx: RequestContext): Promise<BillingAccountRecord> {
    const account = await this.account(ctx);
    if (!account.subscriptionId || !RUNNING.has(account.status)) throw commerceError(CommerceErrorCode.NO_SUBSCRIPTION);
    return account;
  }

  /** A plan open to new subscriptions, with a price for the interval. */
  private async offered(planId: string, interval: BillingInterval): Promise<PlanRecord> {
    const plan = await this.plans.byId(planId);
    if (!plan || !plan.active) throw commerceError(CommerceErrorCode.PLAN_NOT_FOUND);
    if (!plan.prices.some((p) => p.interval === interval)) throw commerceError(CommerceErrorCode.INTERVAL_NOT_OFFERED);
    return plan;
  }

  /** The account with its provider customer (created and registered the first time). */
  private async customer(ctx: RequestContext, account: BillingAccountRecord): Promise<BillingAccountRecord> {
    if (account.customerId) return account;
    const customerId = await this.provider.ensureCustomer(account, null);
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const current = await loadAccount(em, tenantId, this.provider.name, true);
      if (current.customerId) return current;
      if (!(await this.state.claimCustomer(em, tenantId, customerId)))
        throw commerceError(CommerceErrorCode.PAYMENT_PROVIDER_ERROR, 'The customer belongs to another account');
      current.customerId = customerId;
      await saveAccount(em, current);
      return current;
    });
  }

  /** Operators record a payment made outside the provider; the invoice as stored afterwards. */
  async markInvoicePaid(ctx: RequestContext, tenantId: string, invoiceId: string): Promise<InvoiceSnapshot> {
    if (!isUuid(tenantId)) throw commerceError(CommerceErrorCode.INVOICE_NOT_FOUND);
    const scope = systemContext(ctx.requestId, tenantId);
    const found = await withTenant(this.deps.ds, scope, async (em) => ({
      account: await loadAccount(em, tenantId, this.provider.name),
      invoice: await loadInvoice(em, tenantId, invoiceId),
    }));
    if (!found.invoice) throw commerceError(CommerceErrorCode.INVOICE_NOT_FOUND);
    if (found.invoice.status !== 'open') throw commerceError(CommerceErrorCode.INVOICE_NOT_OPEN);
    log.info({ tenantId, invoiceId, operatorId: ctx.userId }, 'invoice marked paid by an operator');
    await this.state.apply(tenantId, await this.provider.markInvoicePaid(found.account, invoiceId), ctx.userId);
    // In the operator's tenant's audit log too (the tenant's own records the invoice's change).
    if (ctx.tenantId && ctx.tenantId !== tenantId)
      await withTenant(this.deps.ds, systemContext(ctx.requestId, ctx.tenantId), (em) =>
        billingAudit(em, ctx.tenantId!, 'invoice_marked_paid', ctx.userId, invoiceId, { tenantId }),
      );

    const stored = await withTenant(this.deps.ds, scope, (em) => loadInvoice(em, tenantId, invoiceId));
    return stored!;
  }
}
