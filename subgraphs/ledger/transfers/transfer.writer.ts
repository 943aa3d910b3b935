import { In, type EntityManager } from 'typeorm';
import { scheduleJob } from '../../../kernel/jobs';
import { LedgerAccount } from '../accounts/ledger-account.entity';
import { ledgerError } from '../ledger.errors';
import type { LedgerLog } from '../log/log.service';
import { BALANCE_FIELDS, applyTransfer, isRefusal, type AccountState } from './transfer.rules';
import { Transfer, TransferKind, TransferStatus } from './transfer.entity';

/** The durable job that releases a pending transfer at the end of its timeout. */
export const TRANSFER_EXPIRY_JOB = 'ledger-transfer-expiry' as const;

/** The log entry each kind of transfer appends. */
export const TRANSFER_ENTRY_TYPES: Record<TransferKind, string> = {
  [TransferKind.SINGLE]: 'transfer.created',
  [TransferKind.PENDING]: 'transfer.pending',
  [TransferKind.POST]: 'transfer.posted',
  [TransferKind.VOID]: 'transfer.voided',
  [TransferKind.EXPIRE]: 'transfer.expired',
};

/** Account balances as the service reasons about them (exact integers). */
export function accountState(a: LedgerAccount): AccountState {
  return {
    id: a.id,
    currency: a.currency,
    debitsMustNotExceedCredits: a.debitsMustNotExceedCredits,
    creditsMustNotExceedDebits: a.creditsMustNotExceedDebits,
    debitsPending: BigInt(a.debitsPending),
    debitsPosted: BigInt(a.debitsPosted),
    creditsPending: BigInt(a.creditsPending),
    creditsPosted: BigInt(a.creditsPosted),
  };
}

/** A transfer row before it is written (its entry index is set when its entry is appended). */
export function newTransfer(fields: Omit<Transfer, 'entryIndex' | 'resolution' | 'status'>): Transfer {
  return Object.assign(new Transfer(), fields, { entryIndex: -1 });
}

/**
 * Writes transfers in the caller's transaction, which holds the log's lock: the rows (with the indexes their
 * entries will take), the accounts' balances moved from `before` to `after`, an expiry job for every pending
 * transfer with a timeout, then one log entry each, in order. The table's CHECK constraints hold the balance
 * rules as a last word.
 */
export async function recordTransfers(
  em: EntityManager,
  log: LedgerLog,
  tenantId: string,
  transfers: Transfer[],
  before: ReadonlyMap<string, AccountState>,
  after: ReadonlyMap<string, AccountState>,
): Promise<void> {
  await writeTransferRows(em, log, tenantId, transfers, before, after);
  await appendTransferEntries(em, log, tenantId, transfers);
}

/**
 * The rows, balances and jobs of `transfers`, numbered with the log's next indexes. Nothing is appended to the
 * log yet: a caller may still undo these statements (ROLLBACK TO SAVEPOINT) without touching the log.
 */
export async function writeTransferRows(
  em: EntityManager,
  log: LedgerLog,
  tenantId: string,
  transfers: Transfer[],
  before: ReadonlyMap<string, AccountState>,
  after: ReadonlyMap<string, AccountState>,
): Promise<void> {
  if (transfers.length === 0) return;
  const size = await log.lock(em, tenantId);
  transfers.forEach((t, i) => (t.entryIndex = size + i));
  await insertTransferRows(em, tenantId, transfers);
  await moveBalances(em, tenantId, before, after);
  for (const t of transfers) {
    if (t.kind !== TransferKind.PENDING || !t.expiresAt) continue;
    await scheduleJob(em, 'ledger', {
      name: TRANSFER_EXPIRY_JOB,
      // Job keys are unique across tenants; transfer ids only within one.
      key: `${TRANSFER_EXPIRY_JOB}:${tenantId}:${t.id}`,
      runAt: t.expiresAt,
      payload: { tenantId, transferId: t.id },
    });
  }
}

/** The rows of `transfers`, however many, in one statement. */
async function insertTransferRows(em: EntityManager, tenantId: string, transfers: Transfer[]): Promise<void> {
  const column = <T>(value: (t: Transfer) => T): T[] => transfers.map(value);
  await em.query(
    `INSERT INTO ledger.transfers (tenant_id, id, kind, debit_account_id, credit_account_id, amount, currency,
            pending_id, timeout_seconds, expires_at, code, memo, request_hash, entry_idx, created_at)
     SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::uuid[], $5::uuid[], $6::numeric[], $7::text[], $8::uuid[],
            $9::integer[], $10::timestamptz[], $11::text[], $12::text[], $13::text[], $14::bigint[], $15::timestamptz[])`,
    [
      tenantId,
      column((t) => t.id),
      column((t) => t.kind),
      column((t) => t.debitAccountId),
      column((t) => t.creditAccountId),
      column((t) => t.amount),
      column((t) => t.currency),
      column((t) => t.pendingId),
      column((t) => t.timeoutSeconds),
      column((t) => t.expiresAt),
      column((t) => t.code),
      column((t) => t.memo),
      column((t) => t.requestHash),
      column((t) => t.entryIndex),
      column((t) => t.createdAt),
    ],
  );
}

/** One entry for each of `transfers`, at the indexes their rows were given. */
export async function appendTransferEntries(
  em: EntityManager,
  log: LedgerLog,
  tenantId: string,
  transfers: Transfer[],
): Promise<void> {
  if (transfers.length === 0) return;
  const entries = await log.append(
    em,
    tenantId,
    transfers.map((t) => ({
      type: TRANSFER_ENTRY_TYPES[t.kind],
      payload: {
        id: t.id,
        debitAccountId: t.debitAccountId,
        creditAccountId: t.creditAccountId,
        amount: t.amount,
        currency: t.currency,
        pendingId: t.pendingId,
        code: t.code,
        memo: t.memo,
      },
    })),
  );
  entries.forEach((e, i) => {
    if (e.index !== transfers[i].entryIndex)
      throw new Error(`transfer ${transfers[i].id} was numbered ${transfers[i].entryIndex}, its entry is ${e.index}`);
  });
}

/** One UPDATE for every account whose balances moved: each column by the difference. */
async function moveBalances(
  em: EntityManager,
  tenantId: string,
  before: ReadonlyMap<string, AccountState>,
  after: ReadonlyMap<string, AccountState>,
): Promise<void> {
  const ids: string[] = [];
  const deltas: string[][] = BALANCE_FIELDS.map(() => []);
  for (const [id, now] of after) {
    const was = before.get(id);
    if (!was) throw new Error(`account ${id} moved without a starting balance`);
    const diff = BALANCE_FIELDS.map((f) => now[f] - was[f]);
    if (diff.every((d) => d === 0n)) continue;
    ids.push(id);
    diff.forEach((d, i) => deltas[i].push(d.toString()));
  }
  if (ids.length === 0) return;
  await em.query(
    `UPDATE ledger.accounts a
        SET debits_pending = a.debits_pending + v.dp, debits_posted = a.debits_posted + v.dpo,
            credits_pending = a.credits_pending + v.cp, credits_posted = a.credits_posted + v.cpo
       FROM unnest($2::uuid[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[]) AS v(id, dp, dpo, cp, cpo)
      WHERE a.tenant_id = $1 AND a.id = v.id`,
    [tenantId, ids, ...deltas],
  );
}

/** Sets where each pending transfer among `transfers` stands, from the rows that resolved them. */
export async function withResolutions(em: EntityManager, tenantId: string, transfers: Transfer[]): Promise<Transfer[]> {
  const pending = transfers.filter((t) => t.kind === TransferKind.PENDING);
  if (pending.length === 0) return transfers;
  const rows: { pending_id: string; kind: TransferKind }[] = await em.query(
    `SELECT pending_id, kind FROM ledger.transfers WHERE tenant_id = $1 AND pending_id = ANY($2::uuid[])`,
    [tenantId, pending.map((t) => t.id)],
  );
  const byPending = new Map(rows.map((r) => [r.pending_id, r.kind]));
  for (const t of pending) {
    const kind = byPending.get(t.id);
    if (kind) t.resolution = RESOLUTION_STATUS[kind];
  }
  return transfers;
}

const RESOLUTION_STATUS: Partial<Record<TransferKind, TransferStatus>> = {
  [TransferKind.POST]: TransferStatus.POSTED,
  [TransferKind.VOID]: TransferStatus.VOIDED,
  [TransferKind.EXPIRE]: TransferStatus.EXPIRED,
};

/**
 * Resolves a pending transfer (the caller checked it is unresolved and holds the log's lock): a post (amount at
 * most the pending amount), void or expire row, with its entry, releasing the pending amounts.
 */
export async function resolvePending(
  em: EntityManager,
  log: LedgerLog,
  tenantId: string,
  r: { id: string; kind: TransferKind; pending: Transfer; amount: bigint; requestHash: string; now: Date },
): Promise<Transfer> {
  const { pending } = r;
  const found = await em.findBy(LedgerAccount, {
    tenantId,
    id: In([pending.debitAccountId, pending.creditAccountId]),
  });
  const before = new Map(found.map((a) => [a.id, accountState(a)]));
  const debit = before.get(pending.debitAccountId);
  const credit = before.get(pending.creditAccountId);
  if (!debit || !credit) throw new Error(`accounts of pending transfer ${pending.id} are missing`);
  const applied = applyTransfer(debit, credit, r.kind, r.amount, BigInt(pending.amount));
  if (isRefusal(applied)) throw ledgerError(applied.code, applied.message);
  const transfer = newTransfer({
    tenantId,
    id: r.id,
    kind: r.kind,
    debitAccountId: pending.debitAccountId,
    creditAccountId: pending.creditAccountId,
    amount: r.amount.toString(),
    currency: pending.currency,
    pendingId: pending.id,
    timeoutSeconds: null,
    expiresAt: null,
    code: null,
    memo: '',
    requestHash: r.requestHash,
    createdAt: r.now,
  });
  const after = new Map([
    [debit.id, applied.debit],
    [credit.id, applied.credit],
  ]);
  await recordTransfers(em, log, tenantId, [transfer], before, after);
  return transfer;
}
