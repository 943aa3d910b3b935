import type { EventOf, EventType } from '../../../kernel/contracts/events';
import type { NewEntry } from '../log/log.service';

/**
 * Events that move money; each is one entry of the tenant's log. The tenant's platform billing (paid invoices,
 * refunds, disputes) is also booked as transfers between its billing accounts (billing-transfers.ts); the
 * transfers affiliate commissions imply come with commerce.
 */
export const MONEY_EVENTS = [
  'commerce.commission_accrued',
  'commerce.commission_posted',
  'commerce.commission_voided',
  'commerce.payout_made',
  'commerce.refund_clawed_back',
  'commerce.invoice_paid',
  'commerce.refunded',
  'commerce.disputed',
] as const satisfies readonly EventType[];

/** Who may do what in a tenant. */
export const ROLE_EVENTS = [
  'identity.member_added',
  'identity.member_role_changed',
  'identity.member_removed',
] as const satisfies readonly EventType[];

/** The tenant's life and set-up, as identity and tenancy record it. */
export const TENANT_AUDIT_EVENTS = [
  'identity.tenant_registered',
  'tenancy.tenant_created',
  'tenancy.tenant_status_changed',
  'tenancy.settings_changed',
  'tenancy.module_installed',
  'tenancy.module_uninstalled',
  'tenancy.domain_verified',
  'tenancy.domain_released',
  'commerce.subscription_changed',
  'commerce.billing_standing_changed',
  'commerce.billing_changed',
] as const satisfies readonly EventType[];

/** Every event another subgraph writes to the ledger with: one entry each, in the log of the event's tenant. */
export const LEDGER_WRITTEN_EVENTS = [
  ...MONEY_EVENTS,
  'messaging.moderation_action',
  ...ROLE_EVENTS,
  ...TENANT_AUDIT_EVENTS,
] as const;

export type LedgerWrittenEvent = EventOf<(typeof LEDGER_WRITTEN_EVENTS)[number]>;

/**
 * Fields an entry never keeps: the log is signed and never changes, so personal contact data must not
 * enter it (a person's right to erasure outlives any entry). Any top-level field named like an e-mail
 * address is dropped too, so a field added to an event later does not slip in.
 */
const OMITTED: Partial<Record<LedgerWrittenEvent['type'], readonly string[]>> = {
  'identity.tenant_registered': ['ownerEmail'],
};
const CONTACT_FIELD = /e-?mail/i;

/** The log entry for an event: its type, its payload without contact data, and the event's id. */
export function entryFor(event: LedgerWrittenEvent): NewEntry {
  const omitted = OMITTED[event.type] ?? [];
  const payload = Object.fromEntries(
    Object.entries(event.payload).filter(
      ([key, value]) => value !== undefined && !omitted.includes(key) && !CONTACT_FIELD.test(key),
    ),
  );
  return { type: event.type, payload, sourceEventId: event.id };
}
