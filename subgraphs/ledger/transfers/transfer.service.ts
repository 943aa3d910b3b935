import { In, type EntityManager } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { isUuid } from '../../../kernel/db/values';
import { AppError, KernelErrorCode } from '../../../kernel/errors';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { isAmount } from '../amount.scalar';
import { LedgerAccount } from '../accounts/ledger-account.entity';
import { isPlatformAccountCode } from '../accounts/ledger-account.service';
import { logOrderPage } from '../accounts/log-order.page';
import { LedgerErrorCode, ledgerError } from '../ledger.errors';
import { LedgerLog } from '../log/log.service';
import type {
  CreateTransferInput,
  PostTransferInput,
  TransferFilter,
  VoidTransferInput,
} from './create-transfer.input';
import { CreateTransferResult, CreateTransferStatus, Transfer, TransferKind } from './transfer.entity';
import {
  applyTransfer,
  chainsOf,
  checkRequest,
  isRefusal,
  resolutionHash,
  type AccountState,
  type CheckedRequest,
  type Refusal,
} from './transfer.rules';
import { expireNow } from './transfer-expiry.job';
import {
  accountState,
  appendTransferEntries,
  newTransfer,
  resolvePending,
  withResolutions,
  writeTransferRows,
} from './transfer.writer';

export const MAX_TRANSFERS_PER_CALL = 500;

const ALREADY_RESOLVED: Partial<Record<TransferKind, LedgerErrorCode>> = {
  [TransferKind.POST]: LedgerErrorCode.PENDING_TRANSFER_ALREADY_POSTED,
  [TransferKind.VOID]: LedgerErrorCode.PENDING_TRANSFER_ALREADY_VOIDED,
  [TransferKind.EXPIRE]: LedgerErrorCode.PENDING_TRANSFER_ALREADY_EXPIRED,
};

export class TransferService {
  private readonly log: LedgerLog;

  constructor(private readonly deps: SubgraphDeps) {
    this.log = new LedgerLog(deps);
  }

  /**
   * Creates a batch of transfers in one transaction. Each chain (linked transfers, or one transfer alone)
   * succeeds or fails as a whole and independently of the others; results come back in input order.
   */
  create(ctx: RequestContext, inputs: CreateTransferInput[]): Promise<CreateTransferResult[]> {
    if (inputs.length > MAX_TRANSFERS_PER_CALL)
      throw new AppError(KernelErrorCode.BAD_USER_INPUT, `At most ${MAX_TRANSFERS_PER_CALL} transfers per call`);
    if (inputs.length === 0) return Promise.resolve([]);
    const requests = inputs.map(checkRequest);
    return withTenant(this.deps.ds, ctx, (em, tenantId) => runTransfers(em, this.log, tenantId, inputs, requests));
  }

  /** Posts a pending transfer, in full or in part (the rest is released). */
  post(ctx: RequestContext, input: PostTransferInput): Promise<Transfer> {
    const amount = input.amount ?? null;
    if (amount !== null && (!isAmount(amount) || amount === '0')) throw ledgerError(LedgerErrorCode.INVALID_AMOUNT);
    return this.resolve(ctx, TransferKind.POST, input.id, input.pendingId, amount);
  }

  /** Releases a pending transfer. */
  void(ctx: RequestContext, input: VoidTransferInput): Promise<Transfer> {
    return this.resolve(ctx, TransferKind.VOID, input.id, input.pendingId, null);
  }

  private resolve(
    ctx: RequestContext,
    kind: TransferKind,
    rawId: string,
    rawPendingId: string,
    amount: string | null,
  ): Promise<Transfer> {
    if (!isUuid(rawId)) throw ledgerError(LedgerErrorCode.INVALID_TRANSFER, 'The id must be a UUID');
    if (!isUuid(rawPendingId)) throw ledgerError(LedgerErrorCode.PENDING_TRANSFER_NOT_FOUND);
    const id = rawId.toLowerCase();
    const pendingId = rawPendingId.toLowerCase();
    const hash = resolutionHash(kind, pendingId, amount);
    const outcome = withTenant(this.deps.ds, ctx, async (em, tenantId): Promise<Transfer | 'expired'> => {
      await this.log.lock(em, tenantId);
      const prior = await em.findOneBy(Transfer, { tenantId, id });
      if (prior) {
        // The same request again answers what it did the first time.
        if (prior.requestHash !== hash) throw ledgerError(LedgerErrorCode.TRANSFER_ID_CONFLICT);
        return (await withResolutions(em, tenantId, [prior]))[0];
      }
      const pending = await em.findOneBy(Transfer, { tenantId, id: pendingId, kind: TransferKind.PENDING });
      if (!pending) throw ledgerError(LedgerErrorCode.PENDING_TRANSFER_NOT_FOUND);
      const resolved = await em.findOneBy(Transfer, { tenantId, pendingId });
      if (resolved) throw ledgerError(ALREADY_RESOLVED[resolved.kind]!);
      const now = await this.log.transactionTime(em, tenantId);
      // Past its timeout it is expired: released here and now if the expiry job has not done it yet.
      if (pending.expiresAt && pending.expiresAt.getTime() <= now.getTime()) {
        await expireNow(em, this.log, tenantId, pending, now);
        return 'expired';
      }
      const pendingAmount = BigInt(pending.amount);
      const value = amount === null ? pendingAmount : BigInt(amount);
      if (value > pendingAmount) throw ledgerError(LedgerErrorCode.AMOUNT_EXCEEDS_PENDING);
      return resolvePending(em, this.log, tenantId, { id, kind, pending, amount: value, requestHash: hash, now });
    });
    // The expiry is kept (its transaction committed); the caller learns the transfer had expired.
    return outcome.then((t) => {
      if (t === 'expired') throw ledgerError(LedgerErrorCode.PENDING_TRANSFER_ALREADY_EXPIRED);
      return t;
    });
  }

  /** Transfers in log order, filtered by account, pending transfer or kind. */
  list(
    ctx: RequestContext,
    filter: TransferFilter | null | undefined,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<Transfer[]> {
    const page = logOrderPage(first, after);
    const accountId = filter?.accountId ?? null;
    const pendingId = filter?.pendingId ?? null;
    if ((accountId !== null && !isUuid(accountId)) || (pendingId !== null && !isUuid(pendingId)))
      return Promise.resolve([]);
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const q = em.createQueryBuilder(Transfer, 't').where('t.tenantId = :tenantId', { tenantId });
      if (accountId !== null)
        q.andWhere('(t.debitAccountId = :accountId OR t.creditAccountId = :accountId)', { accountId });
      if (pendingId !== null) q.andWhere('(t.id = :pendingId OR t.pendingId = :pendingId)', { pendingId });
      if (filter?.kind != null) q.andWhere('t.kind = :kind', { kind: filter.kind });
      if (page.after !== null) q.andWhere('t.entryIndex > :after', { after: page.after });
      const rows = await q.orderBy('t.entryIndex', 'ASC').limit(page.take).getMany();
      return withResolutions(em, tenantId, rows);
    });
  }
}

/**
 * Creates a batch of transfers in the caller's transaction, which is scoped to `tenantId` (an event consumer's):
 * the same checks, balances, log entries and answers as `createTransfers` (a transfer whose id exists with the
 * same fields is EXISTS, with other fields TRANSFER_ID_CONFLICT; a refused chain is FAILED, nothing of it written).
 */
export function createTransfersIn(
  em: EntityManager,
  log: LedgerLog,
  tenantId: string,
  inputs: CreateTransferInput[],
): Promise<CreateTransferResult[]> {
  if (inputs.length > MAX_TRANSFERS_PER_CALL)
    throw new AppError(KernelErrorCode.BAD_USER_INPUT, `At most ${MAX_TRANSFERS_PER_CALL} transfers per call`);
  if (inputs.length === 0) return Promise.resolve([]);
  return runTransfers(em, log, tenantId, inputs, inputs.map(checkRequest), true);
}

async function runTransfers(
  em: EntityManager,
  log: LedgerLog,
  tenantId: string,
  inputs: CreateTransferInput[],
  requests: CheckedRequest[],
  platformAccounts = false,
): Promise<CreateTransferResult[]> {
  // The log's lock first: writers of this tenant's ledger take turns, so balances read below stay true.
  const now = await log.transactionTime(em, tenantId);
  const batch = new TransferBatch(em, log, tenantId, requests, now, platformAccounts);
  await batch.load();
  const { chains, open } = chainsOf(inputs);
  await batch.run(chains, open);
  return batch.results;
}

/** A transfer of the batch with its place in the input. */
interface Placed {
  index: number;
  transfer: Transfer;
}

/** One chain as planned against the balances earlier chains left: what it creates, or why it fails. */
interface ChainPlan {
  chain: number[];
  planned: Placed[];
  existing: Placed[];
  /** The accounts the chain moves, as it leaves them. */
  work: Map<string, AccountState>;
  culprit: { index: number; refusal: Refusal } | null;
}

const REFUSED_BY_DATABASE: Refusal = {
  code: LedgerErrorCode.INVALID_TRANSFER,
  message: 'The ledger refused this transfer',
};

/** A constraint violation (SQLSTATE class 23): the database refused the rows, the transaction goes on. */
function isConstraintViolation(err: unknown): boolean {
  return String((err as { code?: unknown }).code ?? '').startsWith('23');
}

/**
 * One createTransfers call inside its transaction: the accounts' balances as they move, chain by chain. Every
 * chain is checked in memory against the balances the chains before it leave; then all accepted chains are
 * written at once (one INSERT of rows, one UPDATE of balances, one append to the log), whatever the batch size.
 */
class TransferBatch {
  readonly results: CreateTransferResult[];
  private accounts = new Map<string, AccountState>();
  /** Transfers with an id of this batch: stored before, or created by an earlier chain of it. */
  private stored = new Map<string, Transfer>();
  /** The accounts and transfers as loaded, before any chain of this batch. */
  private loaded = { accounts: new Map<string, AccountState>(), stored: new Map<string, Transfer>() };
  private savepoints = 0;
  /** Accounts of the batch that only the platform moves. */
  private readonly reserved = new Set<string>();

  constructor(
    private readonly em: EntityManager,
    private readonly log: LedgerLog,
    private readonly tenantId: string,
    private readonly requests: CheckedRequest[],
    private readonly now: Date,
    /** Whether the batch may move the platform's accounts (billing events may; a tenant's createTransfers may not). */
    private readonly platformAccounts = false,
  ) {
    this.results = requests.map((r) => result(r.id, CreateTransferStatus.FAILED));
  }

  async load(): Promise<void> {
    const valid = this.requests.filter((r) => r.ok);
    const ids = [...new Set(valid.map((r) => r.id))];
    const accountIds = [...new Set(valid.flatMap((r) => [r.input.debitAccountId, r.input.creditAccountId]))];
    // One statement at a time: the transaction has one connection.
    const prior = ids.length ? await this.em.findBy(Transfer, { tenantId: this.tenantId, id: In(ids) }) : [];
    const accounts = accountIds.length
      ? await this.em.findBy(LedgerAccount, { tenantId: this.tenantId, id: In(accountIds) })
      : [];
    for (const t of await withResolutions(this.em, this.tenantId, prior)) this.loaded.stored.set(t.id, t);
    for (const a of accounts) {
      this.loaded.accounts.set(a.id, accountState(a));
      if (isPlatformAccountCode(a.code)) this.reserved.add(a.id);
    }
    this.restart();
  }

  /**
   * Runs the chains (the last one left open when `open`): plans them all, then writes every accepted one at
   * once. Should the database refuse the rows all the same (a constraint violation, which the checks above
   * mirror), nothing of them stays and the chains are written one by one, each under its own savepoint.
   */
  async run(chains: number[][], open: boolean): Promise<void> {
    const isOpen = (n: number) => open && n === chains.length - 1;
    const accepted: Transfer[] = [];
    const touched = new Set<string>();
    for (const [n, chain] of chains.entries()) {
      const plan = this.plan(chain, isOpen(n));
      this.settle(plan);
      if (plan.culprit) continue;
      for (const p of plan.planned) accepted.push(p.transfer);
      for (const id of plan.work.keys()) touched.add(id);
    }
    if (accepted.length === 0 || (await this.writeAll(accepted, touched))) return;
    this.restart();
    for (const [n, chain] of chains.entries()) {
      const plan = this.plan(chain, isOpen(n));
      if (!plan.culprit && plan.planned.length > 0) plan.culprit = await this.write(plan.planned, plan.work);
      this.settle(plan);
    }
  }

  /** Back to the state as loaded: balances, stored transfers and results. */
  private restart(): void {
    this.accounts = new Map(this.loaded.accounts);
    this.stored = new Map(this.loaded.stored);
    this.requests.forEach((r, i) => (this.results[i] = result(r.id, CreateTransferStatus.FAILED)));
  }

  /** Checks every transfer of a chain against the balances the chain leaves (nothing is written). */
  private plan(chain: number[], open: boolean): ChainPlan {
    const plan: ChainPlan = { chain, planned: [], existing: [], work: new Map(), culprit: null };
    for (const index of chain) {
      const refusal = this.planOne(this.requests[index], index, plan);
      if (refusal) {
        plan.culprit = { index, refusal };
        break;
      }
    }
    if (!plan.culprit && open)
      plan.culprit = { index: chain[chain.length - 1], refusal: { code: LedgerErrorCode.LINKED_CHAIN_OPEN } };
    return plan;
  }

  /** The chain's results; when it holds, its balances and transfers become those later chains see. */
  private settle({ chain, planned, existing, work, culprit }: ChainPlan): void {
    for (const { index, transfer } of existing)
      this.results[index] = result(transfer.id, CreateTransferStatus.EXISTS, null, transfer);
    if (culprit) {
      for (const index of chain) {
        if (existing.some((e) => e.index === index)) continue;
        const refusal = index === culprit.index ? culprit.refusal : { code: LedgerErrorCode.LINKED_TRANSFER_FAILED };
        this.results[index] = result(this.requests[index].id, CreateTransferStatus.FAILED, refusal);
      }
      return;
    }
    for (const [id, state] of work) this.accounts.set(id, state);
    for (const { index, transfer } of planned) {
      this.stored.set(transfer.id, transfer);
      this.results[index] = result(transfer.id, CreateTransferStatus.CREATED, null, transfer);
    }
  }

  /** Adds one transfer to the chain's plan (moving its `work`), or answers why it cannot be. */
  private planOne(r: CheckedRequest, index: number, { planned, existing, work }: ChainPlan): Refusal | null {
    if (!r.ok) return r.refusal;
    const prior = this.stored.get(r.id);
    if (prior) {
      if (prior.requestHash !== r.hash) return { code: LedgerErrorCode.TRANSFER_ID_CONFLICT };
      existing.push({ index, transfer: prior });
      return null;
    }
    if (planned.some((p) => p.transfer.id === r.id))
      return { code: LedgerErrorCode.TRANSFER_ID_CONFLICT, message: 'The id appears twice in this chain' };
    const { debitAccountId, creditAccountId } = r.input;
    const debit = work.get(debitAccountId) ?? this.accounts.get(debitAccountId);
    const credit = work.get(creditAccountId) ?? this.accounts.get(creditAccountId);
    if (!debit || !credit) return { code: LedgerErrorCode.ACCOUNT_NOT_FOUND };
    if (!this.platformAccounts && (this.reserved.has(debit.id) || this.reserved.has(credit.id)))
      return { code: LedgerErrorCode.INVALID_TRANSFER, message: 'Billing accounts move only with billing events' };
    const applied = applyTransfer(debit, credit, r.kind, r.amount);
    if (isRefusal(applied)) return applied;
    work.set(debit.id, applied.debit);
    work.set(credit.id, applied.credit);
    const timeoutSeconds = r.input.timeoutSeconds ?? null;
    planned.push({
      index,
      transfer: newTransfer({
        tenantId: this.tenantId,
        id: r.id,
        kind: r.kind,
        debitAccountId,
        creditAccountId,
        amount: r.amount.toString(),
        currency: debit.currency,
        pendingId: null,
        timeoutSeconds,
        expiresAt: timeoutSeconds === null ? null : new Date(this.now.getTime() + timeoutSeconds * 1000),
        code: r.input.code ?? null,
        memo: r.input.memo ?? '',
        requestHash: r.hash,
        createdAt: this.now,
      }),
    });
    return null;
  }

  /**
   * Writes every accepted chain at once: rows and balances (from the loaded ones to where the chains left them)
   * under a savepoint, then all their log entries in input order. Answers false, having undone the rows and
   * before anything reached the log, when the database refuses them.
   */
  private async writeAll(transfers: Transfer[], touched: ReadonlySet<string>): Promise<boolean> {
    const before = new Map([...touched].map((id) => [id, this.loaded.accounts.get(id)!]));
    const after = new Map([...touched].map((id) => [id, this.accounts.get(id)!]));
    if (
      !(await this.underSavepoint(() => writeTransferRows(this.em, this.log, this.tenantId, transfers, before, after)))
    )
      return false;
    await appendTransferEntries(this.em, this.log, this.tenantId, transfers);
    return true;
  }

  /**
   * Writes one checked chain: its rows and balances under a savepoint, then its log entries. Should the
   * database refuse the rows, only this chain is undone, before anything of it reached the log, and reported
   * failed.
   */
  private async write(planned: Placed[], work: Map<string, AccountState>): Promise<ChainPlan['culprit']> {
    const before = new Map([...work.keys()].map((id) => [id, this.accounts.get(id)!]));
    const transfers = planned.map((p) => p.transfer);
    if (
      !(await this.underSavepoint(() => writeTransferRows(this.em, this.log, this.tenantId, transfers, before, work)))
    )
      return { index: planned[0].index, refusal: REFUSED_BY_DATABASE };
    await appendTransferEntries(this.em, this.log, this.tenantId, transfers);
    return null;
  }

  /**
   * Runs `work` under a savepoint: true when it held; false, with its statements undone, when the database
   * refused them (a constraint violation). Nothing under it may append to the log: the log keeps the size it
   * has written in memory, which a rollback would not undo.
   */
  private async underSavepoint(work: () => Promise<void>): Promise<boolean> {
    const savepoint = `transfer_batch_${++this.savepoints}`;
    await this.em.query(`SAVEPOINT ${savepoint}`);
    try {
      await work();
    } catch (err) {
      if (!isConstraintViolation(err)) throw err;
      await this.em.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
      await this.em.query(`RELEASE SAVEPOINT ${savepoint}`);
      return false;
    }
    await this.em.query(`RELEASE SAVEPOINT ${savepoint}`);
    return true;
  }
}

function result(
  id: string,
  status: CreateTransferStatus,
  refusal: Refusal | null = null,
  transfer: Transfer | null = null,
): CreateTransferResult {
  return Object.assign(new CreateTransferResult(), {
    id,
    status,
    errorCode: refusal?.code ?? null,
    message: refusal ? (refusal.message ?? ledgerError(refusal.code).message) : null,
    transfer,
  });
}
