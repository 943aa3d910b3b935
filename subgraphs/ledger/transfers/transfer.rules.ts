import { createHash } from 'node:crypto';
import { isUuid } from '../../../kernel/db/values';
import { TEXT_LIMITS, isStorableText } from '../../../kernel/text';
import { isAmount } from '../amount.scalar';
import { LedgerErrorCode } from '../ledger.errors';
import { TIMEOUT_SECONDS_MAX, TRANSFER_CODE_MAX, type CreateTransferInput } from './create-transfer.input';
import { TransferKind } from './transfer.entity';

/** Balances are served as Amount (below 10^38, like every amount): a transfer that would pass it is refused. */
const BALANCE_LIMIT = 10n ** 38n;

export interface Balances {
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
}

export interface AccountState extends Balances {
  id: string;
  currency: string;
  debitsMustNotExceedCredits: boolean;
  creditsMustNotExceedDebits: boolean;
}

export const BALANCE_FIELDS = ['debitsPending', 'debitsPosted', 'creditsPending', 'creditsPosted'] as const;

/** Why a transfer was refused: a code of ledger.errors.ts and, when the default message says too little, more. */
export interface Refusal {
  code: LedgerErrorCode;
  message?: string;
}

/** A new transfer as the service checked it, or why it cannot be one. */
export type CheckedRequest =
  | { ok: true; id: string; hash: string; kind: TransferKind; amount: bigint; input: CreateTransferInput }
  | { ok: false; id: string; refusal: Refusal };

/**
 * The request's fingerprint: SHA-256 over its fields in a fixed order. The same id sent again with the same
 * fingerprint is the same transfer (a retry); with another, a conflict.
 */
export function requestHash(fields: readonly (string | number | boolean | null)[]): string {
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
}

/** What can be checked of a new transfer before looking at the accounts. */
export function checkRequest(input: CreateTransferInput): CheckedRequest {
  const id = String(input.id ?? '');
  const refuse = (code: LedgerErrorCode, message?: string): CheckedRequest => ({
    ok: false,
    id,
    refusal: { code, message },
  });
  if (!isUuid(id)) return refuse(LedgerErrorCode.INVALID_TRANSFER, 'The id must be a UUID');
  const pending = input.pending ?? false;
  const linked = input.linked ?? false;
  const timeout = input.timeoutSeconds ?? null;
  const code = input.code ?? null;
  const memo = input.memo ?? '';
  if (!isUuid(input.debitAccountId) || !isUuid(input.creditAccountId)) return refuse(LedgerErrorCode.ACCOUNT_NOT_FOUND);
  if (input.debitAccountId.toLowerCase() === input.creditAccountId.toLowerCase())
    return refuse(LedgerErrorCode.SAME_ACCOUNT);
  if (!isAmount(input.amount) || input.amount === '0') return refuse(LedgerErrorCode.INVALID_AMOUNT);
  if (timeout !== null && !pending)
    return refuse(LedgerErrorCode.INVALID_TRANSFER, 'Only a pending transfer has a timeout');
  if (timeout !== null && (!Number.isInteger(timeout) || timeout < 1 || timeout > TIMEOUT_SECONDS_MAX))
    return refuse(LedgerErrorCode.INVALID_TRANSFER, `The timeout must be 1 to ${TIMEOUT_SECONDS_MAX} seconds`);
  if (code !== null && (code.length < 1 || code.length > TRANSFER_CODE_MAX || !isStorableText(code)))
    return refuse(LedgerErrorCode.INVALID_TRANSFER, `The code must be 1 to ${TRANSFER_CODE_MAX} characters`);
  if (memo.length > TEXT_LIMITS.ledgerMemo || !isStorableText(memo))
    return refuse(
      LedgerErrorCode.INVALID_TRANSFER,
      `The memo must be at most ${TEXT_LIMITS.ledgerMemo} characters, without NUL or unpaired surrogates`,
    );
  const kind = pending ? TransferKind.PENDING : TransferKind.SINGLE;
  const debit = input.debitAccountId.toLowerCase();
  const credit = input.creditAccountId.toLowerCase();
  const hash = requestHash(['transfer', kind, debit, credit, input.amount, timeout, linked, code, memo]);
  return {
    ok: true,
    id: id.toLowerCase(),
    hash,
    kind,
    amount: BigInt(input.amount),
    input: { ...input, debitAccountId: debit, creditAccountId: credit, pending, linked, code, memo },
  };
}

/** The fingerprint of a post or void transfer (the amount: null when the whole pending amount is posted). */
export function resolutionHash(kind: TransferKind, pendingId: string, amount: string | null): string {
  return requestHash(['resolve', kind, pendingId.toLowerCase(), amount]);
}

/**
 * Splits a batch into chains: a transfer with `linked` is chained to the next one. Answers the indexes of each
 * chain, and whether the last chain is left open (its last transfer is linked).
 */
export function chainsOf(inputs: readonly { linked?: boolean | null }[]): { chains: number[][]; open: boolean } {
  const chains: number[][] = [];
  let current: number[] = [];
  inputs.forEach((input, i) => {
    current.push(i);
    if (!input.linked) {
      chains.push(current);
      current = [];
    }
  });
  if (current.length > 0) chains.push(current);
  return { chains, open: current.length > 0 };
}

/**
 * What a transfer does to its two accounts: single posts at once; pending reserves; post releases the pending
 * amount and posts `amount` (at most that); void and expire release the pending amount.
 */
export function movement(
  kind: TransferKind,
  amount: bigint,
  pendingAmount = 0n,
): { debit: Balances; credit: Balances } {
  const zero: Balances = { debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n };
  switch (kind) {
    case TransferKind.SINGLE:
      return { debit: { ...zero, debitsPosted: amount }, credit: { ...zero, creditsPosted: amount } };
    case TransferKind.PENDING:
      return { debit: { ...zero, debitsPending: amount }, credit: { ...zero, creditsPending: amount } };
    case TransferKind.POST:
      return {
        debit: { ...zero, debitsPending: -pendingAmount, debitsPosted: amount },
        credit: { ...zero, creditsPending: -pendingAmount, creditsPosted: amount },
      };
    case TransferKind.VOID:
    case TransferKind.EXPIRE:
      return { debit: { ...zero, debitsPending: -pendingAmount }, credit: { ...zero, creditsPending: -pendingAmount } };
  }
}

function moved(account: AccountState, by: Balances): AccountState {
  const next = { ...account };
  for (const f of BALANCE_FIELDS) next[f] = account[f] + by[f];
  return next;
}

/** Why an account's balances may not stand (the same rules as the table's CHECK constraints), or null. */
export function balanceRefusal(a: AccountState): Refusal | null {
  if (BALANCE_FIELDS.some((f) => a[f] < 0n))
    return { code: LedgerErrorCode.INVALID_TRANSFER, message: 'A balance would become negative' };
  if (BALANCE_FIELDS.some((f) => a[f] >= BALANCE_LIMIT)) return { code: LedgerErrorCode.BALANCE_OVERFLOW };
  if (a.debitsMustNotExceedCredits && a.debitsPending + a.debitsPosted > a.creditsPosted)
    return { code: LedgerErrorCode.EXCEEDS_CREDITS };
  if (a.creditsMustNotExceedDebits && a.creditsPending + a.creditsPosted > a.debitsPosted)
    return { code: LedgerErrorCode.EXCEEDS_DEBITS };
  return null;
}

/**
 * Applies a transfer to its accounts' balances (pending amounts count against the limits), or says why not:
 * the debit account is checked first (EXCEEDS_CREDITS), then the credit account (EXCEEDS_DEBITS).
 */
export function applyTransfer(
  debit: AccountState,
  credit: AccountState,
  kind: TransferKind,
  amount: bigint,
  pendingAmount = 0n,
): { debit: AccountState; credit: AccountState } | Refusal {
  if (debit.currency !== credit.currency) return { code: LedgerErrorCode.CURRENCY_MISMATCH };
  const m = movement(kind, amount, pendingAmount);
  const next = { debit: moved(debit, m.debit), credit: moved(credit, m.credit) };
  return balanceRefusal(next.debit) ?? balanceRefusal(next.credit) ?? next;
}

export function isRefusal(value: object): value is Refusal {
  return 'code' in value;
}
