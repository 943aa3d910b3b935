import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { AmountScalar } from '../../../kernel/amount.scalar';
import { BILLING_STATUSES, type BillingStatus } from '../../../kernel/contracts/events';
import type { BillingInterval, InvoiceStatus, MeteredMetric, PriceKind } from './billing.model';

export enum BillingIntervalEnum {
  MONTH = 'month',
  YEAR = 'year',
}
registerEnumType(BillingIntervalEnum, { name: 'BillingInterval', description: 'How often a subscription is charged' });

export enum PriceKindEnum {
  FLAT = 'flat',
  SEAT = 'seat',
  METERED = 'metered',
}
registerEnumType(PriceKindEnum, {
  name: 'PriceKind',
  description: 'FLAT: a fixed amount per period; SEAT: per member of the tenant; METERED: per unit of a usage metric',
});

export enum MeteredMetricEnum {
  API_CALLS = 'api_calls',
  MESSAGES = 'messages',
  LLM_TOKENS = 'llm_tokens',
  STORAGE_BYTES = 'storage_bytes',
}
registerEnumType(MeteredMetricEnum, {
  name: 'MeteredMetric',
  description: "A usage metric a metered price charges for: the same counts the tenant's `usage` shows",
});

export const BillingStatusEnum = Object.fromEntries(BILLING_STATUSES.map((s) => [s.toUpperCase(), s])) as Record<
  Uppercase<BillingStatus>,
  BillingStatus
>;
registerEnumType(BillingStatusEnum, {
  name: 'BillingStatus',
  description:
    "The tenant's subscription: NONE (never subscribed), INCOMPLETE (checkout's first payment pending), TRIALING, ACTIVE, PAST_DUE (a payment failed; dunning), UNPAID (the provider stopped retrying), CANCELED",
});

export enum InvoiceStatusEnum {
  DRAFT = 'draft',
  OPEN = 'open',
  PAID = 'paid',
  VOID = 'void',
  UNCOLLECTIBLE = 'uncollectible',
}
registerEnumType(InvoiceStatusEnum, { name: 'InvoiceStatus' });

@ObjectType()
export class PriceTier {
  @Field(() => Int, {
    nullable: true,
    description: 'Units up to this many (inclusive) are in the tier; null: all the rest',
  })
  upTo: number | null;

  @Field(() => AmountScalar, { description: 'Per unit in the tier' })
  unitAmount: string;

  @Field(() => AmountScalar, { description: 'Once, for reaching the tier' })
  flatAmount: string;
}

@ObjectType()
export class PlanPrice {
  @Field(() => String, {
    description: "The price's name at the payment provider (Stripe lookup_key); new terms, new key",
  })
  key: string;

  @Field(() => BillingIntervalEnum)
  interval: BillingInterval;

  @Field(() => PriceKindEnum)
  kind: PriceKind;

  @Field(() => MeteredMetricEnum, { nullable: true, description: 'What a METERED price counts' })
  metric: MeteredMetric | null;

  @Field(() => AmountScalar, {
    nullable: true,
    description: 'Per period (FLAT), per seat (SEAT) or per unit (METERED without tiers)',
  })
  unitAmount: string | null;

  @Field(() => [PriceTier], { nullable: true, description: 'Graduated tiers of a METERED price' })
  tiers: PriceTier[] | null;
}

@ObjectType()
export class Plan {
  @Field(() => ID)
  id: string;

  @Field(() => String)
  name: string;

  @Field(() => String, { nullable: true })
  description: string | null;

  @Field(() => String, { description: 'ISO 4217; every amount of the plan is in its minor units' })
  currency: string;

  @Field(() => Int)
  trialDays: number;

  @Field(() => [String], {
    description: 'Modules a subscribed tenant gets installed (and loses when the subscription ends)',
  })
  modules: string[];

  @Field(() => GraphQLJSONObject, {
    description:
      'Quota limits a subscribed tenant gets, by usage metric (api_calls, messages, members, storage_bytes, llm_tokens)',
  })
  limits: Record<string, number>;

  @Field(() => [PlanPrice])
  prices: PlanPrice[];

  @Field(() => Boolean, { description: 'Offered to new subscriptions' })
  active: boolean;
}

@ObjectType()
export class BillingAccount {
  @Field(() => String, {
    description: 'Who charges: stripe, or builtin (the platform invoices; an operator records payments)',
  })
  provider: string;

  @Field(() => BillingStatusEnum)
  status: BillingStatus;

  planId: string | null;

  @Field(() => Plan, { nullable: true, description: 'The plan subscribed to' })
  plan: Plan | null;

  @Field(() => BillingIntervalEnum, { nullable: true })
  interval: BillingInterval | null;

  @Field(() => Date, { nullable: true })
  currentPeriodStart: Date | null;

  @Field(() => Date, { nullable: true })
  currentPeriodEnd: Date | null;

  @Field(() => Date, { nullable: true })
  trialEnd: Date | null;

  @Field(() => Boolean, { description: 'The subscription ends when the current period does' })
  cancelAtPeriodEnd: boolean;

  @Field(() => Int, { description: 'Seats charged (members of the tenant)' })
  seats: number;

  @Field(() => String, {
    nullable: true,
    description:
      'Where billing mail goes (failed payments, dunning, suspension); Stripe’s own mails go to the Stripe customer’s address',
  })
  email: string | null;

  @Field(() => Boolean, {
    description: 'An invoice stayed unpaid past the grace period: the tenant is suspended until it is paid',
  })
  delinquent: boolean;

  @Field(() => ID, { nullable: true, description: 'The unpaid invoice dunning is about' })
  dunningInvoiceId: string | null;

  @Field(() => Date, { nullable: true })
  dunningStartedAt: Date | null;
}

@ObjectType()
export class InvoiceLine {
  @Field(() => String)
  description: string;

  @Field(() => String, { description: 'flat, seat, metered, proration or other' })
  kind: string;

  @Field(() => MeteredMetricEnum, { nullable: true })
  metric: string | null;

  @Field(() => String, { description: 'Units (decimal digits): seats, or usage counted in the period' })
  quantity: string;

  @Field(() => AmountScalar, { nullable: true })
  unitAmount: string | null;

  @Field(() => AmountScalar, { description: 'Net amount of the line; a credit line (proration) is in `credit`' })
  amount: string;

  @Field(() => Boolean, { description: 'The line takes `amount` off the invoice' })
  credit: boolean;

  @Field(() => Date)
  periodStart: Date;

  @Field(() => Date)
  periodEnd: Date;
}

@ObjectType()
export class Invoice {
  @Field(() => ID)
  id: string;

  @Field(() => String, { nullable: true })
  number: string | null;

  @Field(() => InvoiceStatusEnum)
  status: InvoiceStatus;

  @Field(() => String)
  currency: string;

  @Field(() => AmountScalar)
  subtotal: string;

  @Field(() => AmountScalar)
  total: string;

  @Field(() => AmountScalar)
  amountDue: string;

  @Field(() => AmountScalar)
  amountPaid: string;

  @Field(() => Date)
  periodStart: Date;

  @Field(() => Date)
  periodEnd: Date;

  @Field(() => Date, { nullable: true })
  dueAt: Date | null;

  @Field(() => Date, { nullable: true })
  paidAt: Date | null;

  @Field(() => String, { nullable: true, description: 'Where the invoice can be seen and paid (Stripe)' })
  hostedUrl: string | null;

  @Field(() => String, { nullable: true, description: 'The invoice as a PDF (Stripe)' })
  pdfUrl: string | null;

  @Field(() => Int, { description: 'Payment attempts so far' })
  attemptCount: number;

  @Field(() => Date, { nullable: true })
  nextAttemptAt: Date | null;

  @Field(() => [InvoiceLine])
  lines: InvoiceLine[];

  @Field(() => Date)
  createdAt: Date;
}

@ObjectType()
export class CheckoutSession {
  @Field(() => String, {
    description:
      'Where to send the user to confirm the subscription (the built-in invoicer: successUrl, already subscribed)',
  })
  url: string;

  @Field(() => BillingAccount, {
    description: 'The account as it is now (with Stripe it changes when the checkout completes)',
  })
  account: BillingAccount;
}

@InputType()
export class PriceTierInput {
  @Field(() => Int, { nullable: true, description: 'Last unit of the tier (inclusive); null for the last tier' })
  upTo?: number | null;

  @Field(() => AmountScalar)
  unitAmount: string;

  @Field(() => AmountScalar, { nullable: true })
  flatAmount?: string | null;
}

@InputType()
export class PlanPriceInput {
  @Field(() => BillingIntervalEnum)
  interval: BillingInterval;

  @Field(() => PriceKindEnum)
  kind: PriceKind;

  @Field(() => MeteredMetricEnum, {
    nullable: true,
    description: 'Required for METERED; at most one METERED price per metric and interval',
  })
  metric?: MeteredMetric | null;

  @Field(() => AmountScalar, { nullable: true, description: 'Required unless `tiers` is given (METERED only)' })
  unitAmount?: string | null;

  @Field(() => [PriceTierInput], {
    nullable: true,
    description: 'Graduated tiers (METERED only), in increasing upTo, the last without upTo',
  })
  tiers?: PriceTierInput[] | null;
}

@InputType()
export class PlanLimitsInput {
  @Field(() => Int, { nullable: true })
  apiCallsPerMonth?: number | null;

  @Field(() => Int, { nullable: true })
  messagesPerMonth?: number | null;

  @Field(() => Int, { nullable: true })
  members?: number | null;

  @Field(() => Int, { nullable: true, description: 'In MiB' })
  storageMiB?: number | null;

  @Field(() => Int, { nullable: true })
  llmTokensPerMonth?: number | null;
}

@InputType()
export class PlanInput {
  @Field(() => ID, { description: 'lower-case letters, digits and dashes' })
  id: string;

  @Field(() => String)
  name: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => String, { nullable: true, description: 'ISO 4217 (default: BILLING_CURRENCY)' })
  currency?: string | null;

  @Field(() => Int, { nullable: true })
  trialDays?: number | null;

  @Field(() => [String], {
    nullable: true,
    description:
      'Module ids of the catalog; tenancy installs them in dependency order and skips one whose dependencies are neither installed nor in the plan',
  })
  modules?: string[] | null;

  @Field(() => PlanLimitsInput, { nullable: true })
  limits?: PlanLimitsInput | null;

  @Field(() => [PlanPriceInput])
  prices: PlanPriceInput[];

  @Field(() => Boolean, { nullable: true })
  active?: boolean | null;
}
