import type { EntityManager } from 'typeorm';
import { z } from 'zod';

/**
 * Every domain event that travels between subgraphs (outbox → bus → consumers), with the schema of its
 * payload. Producers are checked by the compiler (`recordEvent`) and by the schema before the insert;
 * consumers get a payload the schema accepted, typed by the event type (`consumer`).
 */

const id = z.uuid();
const actorId = id.nullish();

/** `{ tenantId }`: a deleted tenant's grace period is over; every subgraph deletes its rows (kernel/db/purge.ts). */
export const TENANT_PURGED_EVENT = 'tenancy.tenant_purged';
/** `{ tenantId, exportId }`: the tenant's owner asked for an export; every subgraph sends its part. */
export const TENANT_EXPORT_REQUESTED_EVENT = 'tenancy.export_requested';
/** `{ tenantId, exportId, subgraph, tables }`: one subgraph's rows of the tenant (kernel/db/export.ts). */
export const TENANT_EXPORT_PART_EVENT = 'platform.tenant_export_part';

const memberRole = z.object({ tenantId: id, userId: id, role: z.string().min(1) });
const domainChange = z.object({ tenantId: id, domain: z.string().min(1) });

/** Money in minor units (cents): decimal digits without leading zeros, below 10^38 (what the ledger's Amount holds). */
const amount = z.string().regex(/^(0|[1-9][0-9]{0,37})$/, 'an amount is a string of decimal digits (minor units)');
/** ISO 4217 code, e.g. `EUR`. */
const currency = z.string().regex(/^[A-Z]{3}$/, 'a currency is an ISO 4217 code such as EUR');
/** An id issued by the payment provider (Stripe `in_…`, `re_…`). */
const providerId = z.string().min(1).max(255);
/** One affiliate commission of a tenant, as commerce keeps it. */
const commission = z.object({
  tenantId: id,
  commissionId: id,
  affiliateId: id,
  amount,
  currency,
});

/** A tenant's subscription to a platform plan, as the billing provider reports it (`none`: never subscribed). */
export const BILLING_STATUSES = ['none', 'incomplete', 'trialing', 'active', 'past_due', 'unpaid', 'canceled'] as const;
export type BillingStatus = (typeof BILLING_STATUSES)[number];

/** What messaging's moderators do; every action is in the tenant's moderation log. */
export const MODERATION_ACTIONS = ['mute', 'unmute', 'ban', 'unban', 'remove', 'delete_message', 'observe'] as const;

export const EVENT_SCHEMAS = {
  /** Someone registered with a new tenant: tenancy creates it, messaging its general room. */
  'identity.tenant_registered': z.object({
    tenantId: id,
    name: z.string(),
    ownerUserId: id,
    ownerEmail: z.string(),
  }),
  /** An account joined a tenant (invitation accepted, first single sign-on). */
  'identity.member_added': memberRole,
  'identity.member_removed': z.object({ tenantId: id, userId: id }),
  'identity.member_role_changed': memberRole,

  /** A signed-in user created a further tenant; they are its owner. */
  'tenancy.tenant_created': z.object({
    tenantId: id,
    name: z.string(),
    slug: z.string(),
    ownerUserId: id,
    actorId,
  }),
  'tenancy.tenant_updated': z.object({ tenantId: id, name: z.string(), slug: z.string(), actorId }),
  'tenancy.tenant_status_changed': z.object({
    tenantId: id,
    status: z.enum(['active', 'suspended', 'trial_expired', 'deleted']),
    reason: z.string().nullish(),
    actorId,
    actorTenantId: id.nullish(),
  }),
  'tenancy.settings_changed': z.object({
    tenantId: id,
    dataResidency: z.string().nullable(),
    readReceipts: z.enum(['public', 'private']),
    actorId,
  }),
  'tenancy.module_installed': z.object({
    tenantId: id,
    moduleId: z.string().min(1),
    version: z.string(),
    permissions: z.array(z.string()),
    actorId,
  }),
  'tenancy.module_uninstalled': z.object({ tenantId: id, moduleId: z.string().min(1), actorId }),
  'tenancy.branding_changed': z.object({
    tenantId: id,
    displayName: z.string().nullable(),
    emailSenderName: z.string().nullable(),
  }),
  'tenancy.domain_verified': domainChange,
  'tenancy.domain_released': domainChange,
  /**
   * Usage the gateways counted, per hourly bucket (tenant, metric, module — '' for none — and hour). `amount` is the
   * bucket's total after this recording, not the increment: it only grows, so a consumer keeps the largest it saw.
   */
  'tenancy.usage_recorded': z.object({
    tenantId: id,
    metric: z.string().min(1),
    module: z.string(),
    hour: z.iso.datetime(),
    amount: z.number().int().min(0),
  }),

  /** A conversion earned an affiliate a commission; it is held (until `availableAt`) before it can be paid out. */
  'commerce.commission_accrued': commission.extend({
    conversionId: id,
    /** Depth in the referral tree: 1 = the affiliate who referred the sale. */
    level: z.number().int().min(1),
    availableAt: z.iso.datetime().nullish(),
  }),
  /** The holding period is over: the commission is payable. */
  'commerce.commission_posted': commission,
  /** The commission will never be paid (fraud, cancelled order, refund within the holding period). */
  'commerce.commission_voided': commission.extend({ reason: z.string().nullish(), actorId }),
  /** Payable commissions were paid out to an affiliate. */
  'commerce.payout_made': z.object({
    tenantId: id,
    payoutId: id,
    affiliateId: id,
    amount,
    currency,
    commissionIds: z.array(id),
    actorId,
  }),
  /** A refund took back (part of) a commission that was already payable or paid. */
  'commerce.refund_clawed_back': commission.extend({ refundId: providerId, invoiceId: providerId.nullish() }),
  /** The payment provider collected an invoice of the tenant (platform billing), or of the tenant's customer. */
  'commerce.invoice_paid': z.object({
    tenantId: id,
    invoiceId: providerId,
    customerId: providerId.nullish(),
    subscriptionId: providerId.nullish(),
    amount,
    currency,
  }),

  /**
   * The tenant's subscription to a platform plan changed (started, changed plan, renewed, lapsed, ended). Tenancy
   * grants exactly `modules` and `limits` (taking back what the previous grant gave and this one does not).
   * `version` grows with every change of the tenant's billing account: a consumer ignores one older than it applied.
   */
  'commerce.subscription_changed': z.object({
    tenantId: id,
    version: z.number().int().min(1),
    planId: z.string().min(1).nullable(),
    status: z.enum(BILLING_STATUSES),
    /** Modules the plan grants (none once the subscription ended). */
    modules: z.array(z.string().min(1)),
    /** Quota limits the plan sets, by usage metric (`api_calls`, `messages`, `members`, `storage_bytes`, `llm_tokens`). */
    limits: z.record(z.string(), z.number().int().min(0)),
    /** While `trialing`: when the plan's trial ends (the platform's own trial lasts at least as long). */
    trialEnd: z.iso.datetime().nullish(),
    actorId,
  }),
  /**
   * Whether the tenant is in good standing with the platform's billing: `delinquent` once an invoice stayed unpaid
   * past the grace period (tenancy suspends the tenant), `good` once it is paid (tenancy lifts a billing suspension).
   */
  'commerce.billing_standing_changed': z.object({
    tenantId: id,
    version: z.number().int().min(1),
    standing: z.enum(['good', 'delinquent']),
    invoiceId: providerId.nullish(),
    reason: z.string().nullish(),
  }),
  /**
   * Something about the tenant's billing changed (subscription, invoice, billing contact), or an operator changed the
   * plan catalogue (then `tenantId` is the operator's tenant): the audit trail of billing.
   */
  'commerce.billing_changed': z.object({
    tenantId: id,
    action: z.string().min(1).max(64),
    actorId,
    target: z.string().max(255).nullish(),
    details: z.record(z.string(), z.unknown()),
  }),
  /** A payment of the tenant was (partly) refunded. */
  'commerce.refunded': z.object({
    tenantId: id,
    refundId: providerId,
    invoiceId: providerId.nullish(),
    amount,
    currency,
    reason: z.string().nullish(),
  }),
  /** A payment of the tenant is disputed (`open`), or the dispute closed (`won`: the money came back; `lost`). */
  'commerce.disputed': z.object({
    tenantId: id,
    disputeId: providerId,
    invoiceId: providerId.nullish(),
    amount,
    currency,
    status: z.enum(['open', 'won', 'lost']),
  }),

  /** A moderator acted in a room (or a Super Admin observed one); recorded with the moderation log line. */
  'messaging.moderation_action': z.object({
    tenantId: id,
    actorId: id,
    action: z.enum(MODERATION_ACTIONS),
    roomId: id.nullish(),
    messageId: id.nullish(),
    targetUserId: id.nullish(),
    reason: z.string().nullish(),
    until: z.iso.datetime().nullish(),
    impersonatorId: id.nullish(),
  }),
  [TENANT_PURGED_EVENT]: z.object({ tenantId: id }),
  [TENANT_EXPORT_REQUESTED_EVENT]: z.object({ tenantId: id, exportId: id }),
  [TENANT_EXPORT_PART_EVENT]: z.object({
    tenantId: id,
    exportId: id,
    subgraph: z.string().min(1),
    tables: z.record(z.string(), z.unknown()),
  }),
} as const;

export type EventType = keyof typeof EVENT_SCHEMAS;
/** What a producer hands to `recordEvent` for an event type. */
export type EventPayloadInput<T extends EventType> = z.input<(typeof EVENT_SCHEMAS)[T]>;
/** What a consumer receives for an event type (its schema accepted it). */
export type EventPayload<T extends EventType> = z.output<(typeof EVENT_SCHEMAS)[T]>;

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(EVENT_SCHEMAS, type);
}

/** An event as it travels between subgraphs (the payload unchecked until a consumer parses it). */
export interface DomainEvent<P = Record<string, unknown>> {
  id: string;
  type: string;
  tenantId: string | null;
  payload: P;
  occurredAt: string;
  source: string;
}

/** An event of one of the types `T`, its payload checked: a union discriminated by `type`. */
export type EventOf<T extends EventType> = {
  [K in T]: Omit<DomainEvent, 'type' | 'payload'> & { type: K; payload: EventPayload<K> };
}[T];

/** A payload that its type's schema refuses: never handed to a consumer. */
export class MalformedEventError extends Error {
  constructor(
    readonly eventId: string,
    readonly type: string,
    readonly issues: string,
  ) {
    super(`event ${eventId} (${type}) does not match its schema: ${issues}`);
    this.name = 'MalformedEventError';
  }
}

/** Checks an event's payload against its type's schema; the event with the parsed payload, or a MalformedEventError. */
export function parseEvent(event: DomainEvent<unknown>): EventOf<EventType> {
  if (!isEventType(event.type)) throw new MalformedEventError(event.id, event.type, 'unknown event type');
  const parsed = EVENT_SCHEMAS[event.type].safeParse(event.payload);
  if (!parsed.success) throw new MalformedEventError(event.id, event.type, z.prettifyError(parsed.error));
  // The schema of `event.type` accepted the payload: the pair is one member of the union.
  return { ...event, payload: parsed.data } as EventOf<EventType>;
}

export interface EventConsumer<T extends EventType = EventType> {
  /** Consumer name, unique per subgraph; also the idempotency key space. */
  name: string;
  types: readonly T[];
  /** Receives only events of `types` whose payload matched their schema. */
  handle(event: EventOf<T>, em: EntityManager): Promise<void>;
}

/** A consumer typed by its list of event types: `handle` gets their union, narrowed by `event.type`. */
export function consumer<const T extends EventType>(definition: {
  name: string;
  types: readonly T[];
  handle: (event: EventOf<NoInfer<T>>, em: EntityManager) => Promise<void>;
}): EventConsumer<T> {
  return definition;
}
