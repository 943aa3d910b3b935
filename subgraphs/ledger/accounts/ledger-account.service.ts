import { randomUUID } from 'node:crypto';
import { In, MoreThan, type EntityManager, type FindOptionsWhere } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { isUuid } from '../../../kernel/db/values';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { isStorableText } from '../../../kernel/text';
import { LedgerErrorCode, ledgerError } from '../ledger.errors';
import { LedgerLog } from '../log/log.service';
import type { CreateLedgerAccountInput, LedgerAccountFilter } from './create-ledger-account.input';
import { LedgerAccount } from './ledger-account.entity';
import { logOrderPage } from './log-order.page';

const ACCOUNT_CODE = /^[a-z0-9:_.-]{1,64}$/;
/** ISO 4217 (three capital letters) or a unit of the tenant's own (POINTS, CREDITS_2026). */
const CURRENCY = /^[A-Z][A-Z0-9_]{2,15}$/;
const OWNER_ID_MAX = 128;

export const ACCOUNT_CREATED_ENTRY = 'account.created';

/** Codes of accounts the platform opens in a tenant's ledger (billing); a tenant neither opens nor moves them. */
export const PLATFORM_ACCOUNT_CODE_PREFIX = 'billing.';

export function isPlatformAccountCode(code: string): boolean {
  return code.startsWith(PLATFORM_ACCOUNT_CODE_PREFIX);
}

export class LedgerAccountService {
  private readonly log: LedgerLog;

  constructor(private readonly deps: SubgraphDeps) {
    this.log = new LedgerLog(deps);
  }

  /** Opens an account and records it in the tenant's log, in one transaction. */
  create(ctx: RequestContext, input: CreateLedgerAccountInput): Promise<LedgerAccount> {
    const account = checkNewAccount({
      id: randomUUID(),
      code: input.code ?? '',
      currency: input.currency ?? '',
      ownerId: input.ownerId ?? null,
      debitsMustNotExceedCredits: input.debitsMustNotExceedCredits ?? false,
      creditsMustNotExceedDebits: input.creditsMustNotExceedDebits ?? false,
    });
    if (isPlatformAccountCode(account.code))
      throw ledgerError(
        LedgerErrorCode.INVALID_ACCOUNT,
        `Codes starting with ${PLATFORM_ACCOUNT_CODE_PREFIX} are the platform's (billing)`,
      );
    return withTenant(this.deps.ds, ctx, (em, tenantId) => openLedgerAccount(em, this.log, tenantId, account));
  }

  /** The tenant's accounts in the order they were opened. */
  list(
    ctx: RequestContext,
    filter: LedgerAccountFilter | null | undefined,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<LedgerAccount[]> {
    const page = logOrderPage(first, after);
    return withTenant(this.deps.ds, ctx, (em, tenantId) => {
      const where: FindOptionsWhere<LedgerAccount> = { tenantId };
      if (filter?.currency != null) where.currency = filter.currency;
      if (filter?.code != null) where.code = filter.code;
      if (filter?.ownerId != null) where.ownerId = filter.ownerId;
      if (page.after !== null) where.entryIndex = MoreThan(Number(page.after));
      return em.find(LedgerAccount, { where, order: { entryIndex: 'ASC' }, take: page.take });
    });
  }

  async byIds(ctx: RequestContext, ids: readonly string[]): Promise<(LedgerAccount | null)[]> {
    const wanted = ids.filter(isUuid);
    const rows = wanted.length
      ? await withTenant(this.deps.ds, ctx, (em, tenantId) => em.findBy(LedgerAccount, { tenantId, id: In(wanted) }))
      : [];
    const byId = new Map(rows.map((a) => [a.id, a]));
    return ids.map((id) => byId.get(id) ?? null);
  }
}

/** An account to open: its id (a UUID the caller chose), code, currency, owner and flags. */
export interface NewLedgerAccount {
  id: string;
  code: string;
  currency: string;
  ownerId: string | null;
  debitsMustNotExceedCredits: boolean;
  creditsMustNotExceedDebits: boolean;
}

/** The account as given, or the reason it cannot be opened (INVALID_ACCOUNT). */
function checkNewAccount(account: NewLedgerAccount): NewLedgerAccount {
  const { code, currency, ownerId } = account;
  if (!isUuid(account.id)) throw ledgerError(LedgerErrorCode.INVALID_ACCOUNT, 'The id must be a UUID');
  if (!ACCOUNT_CODE.test(code))
    throw ledgerError(LedgerErrorCode.INVALID_ACCOUNT, 'The code must be 1 to 64 of a-z, 0-9 and : _ . -');
  if (!CURRENCY.test(currency))
    throw ledgerError(
      LedgerErrorCode.INVALID_ACCOUNT,
      'The currency must be an ISO 4217 code or 3 to 16 of A-Z, 0-9 and _ starting with a letter',
    );
  if (ownerId !== null && (ownerId.length < 1 || ownerId.length > OWNER_ID_MAX || !isStorableText(ownerId)))
    throw ledgerError(LedgerErrorCode.INVALID_ACCOUNT, `The owner id must be 1 to ${OWNER_ID_MAX} characters`);
  if (account.debitsMustNotExceedCredits && account.creditsMustNotExceedDebits)
    throw ledgerError(
      LedgerErrorCode.INVALID_ACCOUNT,
      'An account limits its debits or its credits, not both (it could never move)',
    );
  return { ...account, id: account.id.toLowerCase() };
}

/**
 * Opens an account in the caller's transaction, which is scoped to `tenantId` (a request's, or an event
 * consumer's): takes the log's lock, refuses a code already open in that currency (ACCOUNT_EXISTS), and writes
 * the row with its `account.created` entry — what `createLedgerAccount` does.
 */
export async function openLedgerAccount(
  em: EntityManager,
  log: LedgerLog,
  tenantId: string,
  input: NewLedgerAccount,
): Promise<LedgerAccount> {
  const { id, code, currency, ownerId, debitsMustNotExceedCredits, creditsMustNotExceedDebits } =
    checkNewAccount(input);
  // The log's lock first: every writer of this tenant's ledger waits here, in the same order.
  await log.lock(em, tenantId);
  if (await em.existsBy(LedgerAccount, { tenantId, code, currency })) throw ledgerError(LedgerErrorCode.ACCOUNT_EXISTS);
  const flags = { debitsMustNotExceedCredits, creditsMustNotExceedDebits };
  const [entry] = await log.append(em, tenantId, [
    { type: ACCOUNT_CREATED_ENTRY, payload: { id, code, currency, ownerId, flags } },
  ]);
  await em.insert(LedgerAccount, { tenantId, id, code, currency, ownerId, ...flags, entryIndex: entry.index });
  return em.findOneByOrFail(LedgerAccount, { tenantId, id });
}
