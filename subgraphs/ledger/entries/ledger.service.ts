import { createHash, randomUUID } from 'node:crypto';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TEXT_LIMITS, isStorableText } from '../../../kernel/text';
import { LedgerErrorCode, ledgerError } from '../ledger.errors';
import { LedgerEntry, type AppendLedgerEntryInput } from './ledger-entry.entity';

export const GENESIS_HASH = '0'.repeat(64);

/**
 * The entry's hash over its fields exactly as PostgreSQL stores them: text that PostgreSQL would store
 * differently (a NUL, an unpaired surrogate) is refused before an entry is hashed, so recomputing the
 * hash from the stored row gives the same value.
 */
export function entryHash(
  prevHash: string,
  e: { tenantId: string; sequence: number; account: string; amountCents: number; memo: string },
): string {
  return createHash('sha256')
    .update(JSON.stringify([prevHash, e.tenantId, e.sequence, e.account, e.amountCents, e.memo]))
    .digest('hex');
}

export class LedgerService {
  constructor(private readonly deps: SubgraphDeps) {}

  append(ctx: RequestContext, input: AppendLedgerEntryInput): Promise<LedgerEntry> {
    const account = (input.account ?? '').trim();
    const memo = (input.memo ?? '').trim();
    if (!/^[a-z0-9:_.-]{1,64}$/i.test(account))
      throw ledgerError(LedgerErrorCode.INVALID_ENTRY, 'Account must be 1 to 64 of [a-z0-9:_.-]');
    if (!Number.isSafeInteger(input.amountCents) || input.amountCents === 0) {
      throw ledgerError(LedgerErrorCode.INVALID_ENTRY, 'Amount must be a non-zero integer');
    }
    if (memo.length > TEXT_LIMITS.ledgerMemo)
      throw ledgerError(LedgerErrorCode.INVALID_ENTRY, `Memo is at most ${TEXT_LIMITS.ledgerMemo} characters`);
    if (!isStorableText(memo))
      throw ledgerError(
        LedgerErrorCode.INVALID_ENTRY,
        'Memo may not contain NUL characters or unpaired UTF-16 surrogates',
      );
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      // One writer per tenant chain at a time.
      await em.query(`SELECT pg_advisory_xact_lock(hashtextextended('ledger:' || $1, 0))`, [tenantId]);
      const last = await em.findOne(LedgerEntry, { where: { tenantId }, order: { sequence: 'DESC' } });
      const sequence = (last?.sequence ?? 0) + 1;
      const prevHash = last?.hash ?? GENESIS_HASH;
      const fields = { tenantId, sequence, account, amountCents: input.amountCents, memo };
      const id = randomUUID();
      await em.insert(LedgerEntry, { id, ...fields, prevHash, hash: entryHash(prevHash, fields) });
      return em.findOneByOrFail(LedgerEntry, { tenantId, id });
    });
  }

  list(ctx: RequestContext, first: number): Promise<LedgerEntry[]> {
    return withTenant(this.deps.ds, ctx, (em, tenantId) =>
      em.find(LedgerEntry, {
        where: { tenantId },
        order: { sequence: 'DESC' },
        take: Math.max(1, Math.min(first, 200)),
      }),
    );
  }

  /** Recomputes the whole chain; false if any entry was altered, removed or reordered. */
  verify(ctx: RequestContext): Promise<boolean> {
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const entries = await em.find(LedgerEntry, { where: { tenantId }, order: { sequence: 'ASC' } });
      let prev = GENESIS_HASH;
      for (const [i, e] of entries.entries()) {
        if (e.sequence !== i + 1 || e.prevHash !== prev || entryHash(prev, e) !== e.hash) return false;
        prev = e.hash;
      }
      return true;
    });
  }
}
