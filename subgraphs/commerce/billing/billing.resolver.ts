import { Arg, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import { GatewayPolicy } from '../../../kernel/contracts/gateway-policy';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import type { BillingAccountRecord, BillingInterval, InvoiceSnapshot, PlanRecord } from './billing.model';
import { billingOf, type Billing } from './billing.runtime';
import {
  BillingAccount,
  BillingIntervalEnum,
  CheckoutSession,
  Invoice,
  InvoiceLine,
  Plan,
  PlanInput,
} from './billing.types';

/** The GraphQL view of a stored invoice: credit lines carry their amount unsigned, flagged `credit`. */
export function invoiceView(i: InvoiceSnapshot): Invoice {
  const lines: InvoiceLine[] = i.lines.map((l) => ({
    ...l,
    credit: l.amount.startsWith('-'),
    amount: l.amount.replace(/^-/, ''),
  }));
  return { ...i, id: i.invoiceId, lines };
}

function accountView(a: BillingAccountRecord): BillingAccount {
  return { ...a, plan: null };
}

function planView(p: PlanRecord): Plan {
  return p;
}

/**
 * The tenant's billing. Every field stays open while the tenant is suspended: a tenant suspended for an unpaid
 * invoice must still be able to see it, pay it and manage its subscription.
 */
@Resolver(() => BillingAccount)
export class BillingResolver {
  private readonly billing: Billing;
  constructor(deps: SubgraphDeps) {
    this.billing = billingOf(deps);
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('billing:read')
  @Query(() => [Plan], { description: 'Plans a tenant can subscribe to' })
  async plans(): Promise<Plan[]> {
    return (await this.billing.plans.list(true)).map(planView);
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('billing:read')
  @Query(() => BillingAccount, { description: "The current tenant's subscription and billing standing" })
  async billingAccount(): Promise<BillingAccount> {
    return accountView(await this.billing.accounts.account(currentContext()));
  }

  @FieldResolver(() => Plan, { nullable: true })
  async plan(@Root() account: BillingAccountRecord): Promise<Plan | null> {
    return account.planId ? this.billing.plans.byId(account.planId) : null;
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('billing:read')
  @Query(() => [Invoice], { description: "The current tenant's invoices, newest first" })
  async invoices(
    @Arg('first', () => Int, { defaultValue: 20, description: '1 to 100' }) first: number,
  ): Promise<Invoice[]> {
    return (await this.billing.accounts.invoices(currentContext(), first)).map(invoiceView);
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('billing:read')
  @Query(() => Invoice, {
    nullable: true,
    description:
      'What the next invoice would be if the period ended now, usage so far included (null: no subscription)',
  })
  async upcomingInvoice(): Promise<Invoice | null> {
    const invoice = await this.billing.accounts.upcomingInvoice(currentContext());
    return invoice && invoiceView(invoice);
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('billing:manage')
  @Mutation(() => CheckoutSession, {
    description:
      'Starts a subscription to a plan: the URL of the payment page (Stripe Checkout). Return URLs must be pages of APP_URL',
  })
  async startCheckout(
    @Arg('planId', () => ID) planId: string,
    @Arg('interval', () => BillingIntervalEnum) interval: BillingInterval,
    @Arg('successUrl', () => String, { nullable: true }) successUrl?: string | null,
    @Arg('cancelUrl', () => String, { nullable: true }) cancelUrl?: string | null,
  ): Promise<CheckoutSession> {
    const { url, account } = await this.billing.accounts.startCheckout(currentContext(), planId, interval, {
      successUrl,
      cancelUrl,
    });
    return { url, account: accountView(account) };
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('billing:manage')
  @Mutation(() => String, {
    description:
      "A one-time link to the provider's customer portal (payment methods, invoices); NO_PORTAL with the built-in invoicer",
  })
  billingPortalUrl(@Arg('returnUrl', () => String, { nullable: true }) returnUrl?: string | null): Promise<string> {
    return this.billing.accounts.portalUrl(currentContext(), returnUrl);
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('billing:manage')
  @Mutation(() => BillingAccount, {
    description: "Moves the subscription to another plan or interval now; the period's remainder is prorated",
  })
  async changePlan(
    @Arg('planId', () => ID) planId: string,
    @Arg('interval', () => BillingIntervalEnum) interval: BillingInterval,
  ): Promise<BillingAccount> {
    return accountView(await this.billing.accounts.changePlan(currentContext(), planId, interval));
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('billing:manage')
  @Mutation(() => BillingAccount, { description: 'Ends the subscription when the current period ends' })
  async cancelSubscription(): Promise<BillingAccount> {
    return accountView(await this.billing.accounts.setCancelAtPeriodEnd(currentContext(), true));
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('billing:manage')
  @Mutation(() => BillingAccount, { description: 'Keeps a subscription that was set to end with its period' })
  async resumeSubscription(): Promise<BillingAccount> {
    return accountView(await this.billing.accounts.setCancelAtPeriodEnd(currentContext(), false));
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('billing:manage')
  @Mutation(() => BillingAccount, { description: 'Sets where billing mail goes (null: nowhere)' })
  async setBillingEmail(@Arg('email', () => String, { nullable: true }) email: string | null): Promise<BillingAccount> {
    return accountView(await this.billing.accounts.setEmail(currentContext(), email));
  }
}

/** The plan catalogue and payments made outside the provider (Super Admins). */
@Resolver()
export class PlanAdminResolver {
  private readonly billing: Billing;
  constructor(deps: SubgraphDeps) {
    this.billing = billingOf(deps);
  }

  @Authorized('platform:billing')
  @Query(() => [Plan], { description: 'Platform operators: every plan, archived ones too' })
  async allPlans(): Promise<Plan[]> {
    return (await this.billing.plans.list(false)).map(planView);
  }

  @Authorized('platform:billing')
  @Mutation(() => Plan, { description: 'Platform operators: adds a plan; it is synced to the payment provider' })
  async createPlan(@Arg('input', () => PlanInput) input: PlanInput): Promise<Plan> {
    return planView(await this.billing.plans.save(input, true, currentContext()));
  }

  @Authorized('platform:billing')
  @Mutation(() => Plan, {
    description:
      'Platform operators: replaces a plan’s terms. New subscriptions and plan changes get the new prices; running Stripe subscriptions keep theirs, the built-in invoicer charges the new ones from the next period. Subscribed tenants get the new modules and limits at their subscription’s next change',
  })
  async updatePlan(@Arg('input', () => PlanInput) input: PlanInput): Promise<Plan> {
    return planView(await this.billing.plans.save(input, false, currentContext()));
  }

  @Authorized('platform:billing')
  @Mutation(() => Plan, { description: 'Platform operators: stops offering a plan (subscriptions to it go on)' })
  async archivePlan(@Arg('id', () => ID) id: string): Promise<Plan> {
    return planView(await this.billing.plans.setActive(id, false, currentContext()));
  }

  @Authorized('platform:billing')
  @Mutation(() => Plan, {
    description:
      'Platform operators: creates at the payment provider what the plan needs and is missing (safe to repeat)',
  })
  async syncPlan(@Arg('id', () => ID) id: string): Promise<Plan> {
    return planView(await this.billing.plans.sync(id));
  }

  @Authorized('platform:billing')
  @Mutation(() => Invoice, {
    description:
      "Platform operators: records that a tenant's open invoice was paid outside the provider (e.g. bank transfer)",
  })
  async markInvoicePaid(
    @Arg('tenantId', () => ID) tenantId: string,
    @Arg('invoiceId', () => ID) invoiceId: string,
  ): Promise<Invoice> {
    return invoiceView(await this.billing.accounts.markInvoicePaid(currentContext(), tenantId, invoiceId));
  }
}
