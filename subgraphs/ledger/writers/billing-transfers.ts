import { createHash } from 'node:crypto';
import { In, type EntityManager } from 'typeorm';
import type { EventOf } from '../../../kernel/contracts/events';
import { logger } from '../../../kernel/log';
import { TEXT_LIMITS } from '../../../kernel/text';
import { LedgerAccount } from '../accounts/ledger-account.entity';
import { openLedgerAccount } from '../accounts/ledger-account.service';
import type { LedgerLog } from '../log/log.service';
import type { CreateTransferInput } from '../transfers/create-transfer.input';
import { CreateTransferStatus, Transfer } from '../transfers/transfer.entity';
import { createTransfersIn } from '../transfers/transfer.service';

/**
 * Platform billing in the tenant's own ledger: what the tenant paid the platform, what came back to it, and what
 * a dispute holds, as double-entry transfers next to the events' entries.
 *
 * Accounts, one of each per tenant and currency, opened on first use (no balance limits: the ledger records what
 * the payment provider reports, it does not refuse it). `balance` = credits − debits:
 * - `billing.payments` (owner: the tenant): debited with every paid invoice, credited with refunds and lost
 *   disputes. Its balance is minus what the tenant has paid the platform, net (an expense of the tenant).
 * - `billing.platform` (owner: `platform`): the platform's side, credited with every paid invoice, debited with
 *   refunds and disputed money. Its balance is what the platform keeps of the tenant's payments.
 * - `billing.disputes` (owner: `platform`): money a dispute took from the platform until the dispute closes. Its
 *   balance is what open disputes hold.
 * In every currency payments + platform + disputes = 0.
 *
 * Transfers (posted at once; debit → credit):
 * - `commerce.invoice_paid`: payments → platform, the invoice's amount (code `billing.invoice_paid`).
 * - `commerce.refunded`: platform → payments, the refund's amount (code `billing.refund`).
 * - `commerce.disputed` open: platform → disputes (code `billing.dispute_opened`); won: disputes → platform
 *   (`billing.dispute_won`); lost: disputes → payments (`billing.dispute_lost`, the tenant has the money back).
 *   A dispute that closes without its opening having been booked books the opening with it (one linked chain), so
 *   the order events arrive in does not matter.
 * The memo names the provider's invoice, refund or dispute. An amount of 0 moves nothing (no transfer).
 *
 * Ids are UUIDs derived from SHA-256 (RFC 9562 version 8): an account's from the tenant, its code and currency; a
 * transfer's from the tenant and the provider object it books (the invoice, the refund, the dispute's opening or
 * closing). The same invoice, refund or dispute step reported again — the event redelivered, or the provider's
 * notice recorded twice — finds its transfer there and moves nothing; a dispute closes once (a second closing
 * that tells otherwise is logged, the first stands).
 */
export const BILLING_ACCOUNTS = {
  payments: 'billing.payments',
  platform: 'billing.platform',
  disputes: 'billing.disputes',
} as const;
type BillingAccount = keyof typeof BILLING_ACCOUNTS;

/** The owner id of the platform's accounts in a tenant's ledger. */
export const PLATFORM_OWNER = 'platform';

export const BILLING_EVENTS = ['commerce.invoice_paid', 'commerce.refunded', 'commerce.disputed'] as const;
export type BillingEvent = EventOf<(typeof BILLING_EVENTS)[number]>;

export function isBillingEvent(event: { type: string }): event is BillingEvent {
  return (BILLING_EVENTS as readonly string[]).includes(event.type);
}

/** One transfer to book: between two billing accounts, keyed by the provider object it records. */
interface Booking {
  key: string;
  debit: BillingAccount;
  credit: BillingAccount;
  code: string;
  memo: string;
}

const log = logger('ledger.billing');

/** A UUID (version 8, RFC 9562) from SHA-256 of `name`: the same name, the same id. */
export function derivedUuid(name: string): string {
  const b = createHash('sha256').update(name).digest().subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x80;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function billingAccountId(tenantId: string, account: BillingAccount, currency: string): string {
  return derivedUuid(`nexus-ledger:billing-account:${tenantId}:${BILLING_ACCOUNTS[account]}:${currency}`);
}

export function billingTransferId(tenantId: string, key: string): string {
  return derivedUuid(`nexus-ledger:billing-transfer:${tenantId}:${key}`);
}

/** The memo, naming the invoice when there is one and the memo has room for it. */
function withInvoice(memo: string, invoiceId: string | null | undefined): string {
  const full = invoiceId ? `${memo} (invoice ${invoiceId})` : memo;
  return full.length <= TEXT_LIMITS.ledgerMemo ? full : memo;
}

/** The transfers an event books, in order (a chain when more than one). */
function bookingsFor(event: BillingEvent): Booking[] {
  switch (event.type) {
    case 'commerce.invoice_paid': {
      const { invoiceId } = event.payload;
      return [
        {
          key: `invoice_paid:${invoiceId}`,
          debit: 'payments',
          credit: 'platform',
          code: 'billing.invoice_paid',
          memo: `Invoice ${invoiceId} paid`,
        },
      ];
    }
    case 'commerce.refunded': {
      const { refundId, invoiceId } = event.payload;
      return [
        {
          key: `refund:${refundId}`,
          debit: 'platform',
          credit: 'payments',
          code: 'billing.refund',
          memo: withInvoice(`Refund ${refundId}`, invoiceId),
        },
      ];
    }
    case 'commerce.disputed': {
      const { disputeId, invoiceId, status } = event.payload;
      const opened: Booking = {
        key: `dispute_opened:${disputeId}`,
        debit: 'platform',
        credit: 'disputes',
        code: 'billing.dispute_opened',
        memo: withInvoice(`Dispute ${disputeId} opened`, invoiceId),
      };
      if (status === 'open') return [opened];
      const closed: Booking = {
        key: `dispute_closed:${disputeId}`,
        debit: 'disputes',
        credit: status === 'won' ? 'platform' : 'payments',
        code: `billing.dispute_${status}`,
        memo: withInvoice(`Dispute ${disputeId} ${status}`, invoiceId),
      };
      return [opened, closed];
    }
  }
}

/**
 * Books a billing event's transfers in the consumer's transaction (scoped to the tenant, holding its log's lock),
 * through the code `createTransfers` runs: opens the accounts it needs, then the transfers, each with its entry in
 * the tenant's log. A step booked before (its transfer id exists) is not booked again; should the event tell it
 * otherwise (another amount, another outcome), the first booking stands and the difference is logged.
 */
export async function bookBillingEvent(em: EntityManager, ledgerLog: LedgerLog, event: BillingEvent): Promise<void> {
  const { tenantId, amount, currency } = event.payload;
  if (BigInt(amount) === 0n) return;
  await ledgerLog.lock(em, tenantId);
  const bookings = bookingsFor(event).map((b) => ({ ...b, id: billingTransferId(tenantId, b.key) }));
  const prior = new Map(
    (await em.findBy(Transfer, { tenantId, id: In(bookings.map((b) => b.id)) })).map((t) => [t.id, t]),
  );
  const todo = bookings.filter((b) => !prior.has(b.id));
  const needed = [...new Set(bookings.flatMap((b) => [b.debit, b.credit]))];
  const accounts = await billingAccounts(em, ledgerLog, tenantId, currency, needed);
  for (const b of bookings) {
    const t = prior.get(b.id);
    if (
      t &&
      (t.amount !== amount ||
        t.debitAccountId !== accounts.get(b.debit) ||
        t.creditAccountId !== accounts.get(b.credit))
    )
      log.warn(
        { tenantId, eventId: event.id, type: event.type, transferId: t.id, booked: t.amount, reported: amount },
        'billing event differs from the transfer booked before for the same step: the first booking stands',
      );
  }
  if (todo.length === 0) return;
  const inputs: CreateTransferInput[] = todo.map((b, i) => ({
    id: b.id,
    debitAccountId: accounts.get(b.debit)!,
    creditAccountId: accounts.get(b.credit)!,
    amount,
    pending: false,
    linked: i < todo.length - 1,
    code: b.code,
    memo: b.memo,
  }));
  const results = await createTransfersIn(em, ledgerLog, tenantId, inputs);
  for (const r of results) {
    if (r.status !== CreateTransferStatus.FAILED) continue;
    log.error(
      { tenantId, eventId: event.id, type: event.type, transferId: r.id, errorCode: r.errorCode, reason: r.message },
      'billing transfer refused by the ledger',
    );
  }
}

/**
 * The ids of the tenant's billing accounts in `currency`, opening those not there yet (their `account.created`
 * entries come before the transfers'). An account is found by its code (only the platform opens `billing.*` accounts;
 * a tenant can neither open nor move them).
 */
async function billingAccounts(
  em: EntityManager,
  ledgerLog: LedgerLog,
  tenantId: string,
  currency: string,
  needed: BillingAccount[],
): Promise<Map<BillingAccount, string>> {
  await ledgerLog.lock(em, tenantId);
  const found = await em.findBy(LedgerAccount, {
    tenantId,
    currency,
    code: In(needed.map((a) => BILLING_ACCOUNTS[a])),
  });
  const byCode = new Map(found.map((a) => [a.code, a.id]));
  const ids = new Map<BillingAccount, string>();
  for (const account of needed) {
    let id = byCode.get(BILLING_ACCOUNTS[account]);
    if (!id) {
      const opened = await openLedgerAccount(em, ledgerLog, tenantId, {
        id: billingAccountId(tenantId, account, currency),
        code: BILLING_ACCOUNTS[account],
        currency,
        ownerId: account === 'payments' ? tenantId : PLATFORM_OWNER,
        debitsMustNotExceedCredits: false,
        creditsMustNotExceedDebits: false,
      });
      id = opened.id;
    }
    ids.set(account, id);
  }
  return ids;
}
