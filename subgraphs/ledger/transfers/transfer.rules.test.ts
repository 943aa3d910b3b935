import { LedgerErrorCode } from '../ledger.errors';
import type { CreateTransferInput } from './create-transfer.input';
import { TransferKind } from './transfer.entity';
import { applyTransfer, chainsOf, checkRequest, isRefusal, type AccountState } from './transfer.rules';

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';
const ID = '00000000-0000-4000-8000-000000000001';

function account(id: string, balances: Partial<AccountState> = {}): AccountState {
  return {
    id,
    currency: 'USD',
    debitsMustNotExceedCredits: false,
    creditsMustNotExceedDebits: false,
    debitsPending: 0n,
    debitsPosted: 0n,
    creditsPending: 0n,
    creditsPosted: 0n,
    ...balances,
  };
}

const input = (more: Partial<CreateTransferInput> = {}): CreateTransferInput =>
  ({
    id: ID,
    debitAccountId: A,
    creditAccountId: B,
    amount: '10',
    pending: false,
    linked: false,
    memo: '',
    ...more,
  }) as CreateTransferInput;

describe('transfer rules', () => {
  it('splits a batch into chains at every transfer that is not linked, and notices an open last chain', () => {
    expect(chainsOf([{ linked: true }, { linked: false }, {}, { linked: true }, {}])).toEqual({
      chains: [[0, 1], [2], [3, 4]],
      open: false,
    });
    expect(chainsOf([{}, { linked: true }])).toEqual({ chains: [[0], [1]], open: true });
  });

  it('refuses malformed transfers before looking at accounts', () => {
    const code = (more: Partial<CreateTransferInput>) => {
      const r = checkRequest(input(more));
      return r.ok ? null : r.refusal.code;
    };
    expect(code({})).toBeNull();
    expect(code({ id: 'nope' })).toBe(LedgerErrorCode.INVALID_TRANSFER);
    expect(code({ amount: '0' })).toBe(LedgerErrorCode.INVALID_AMOUNT);
    expect(code({ amount: '1'.repeat(39) })).toBe(LedgerErrorCode.INVALID_AMOUNT);
    expect(code({ creditAccountId: A.toUpperCase() })).toBe(LedgerErrorCode.SAME_ACCOUNT);
    expect(code({ timeoutSeconds: 5 })).toBe(LedgerErrorCode.INVALID_TRANSFER);
    expect(code({ pending: true, timeoutSeconds: 0 })).toBe(LedgerErrorCode.INVALID_TRANSFER);
    expect(code({ pending: true, timeoutSeconds: 31_536_001 })).toBe(LedgerErrorCode.INVALID_TRANSFER);
    expect(code({ memo: 'x'.repeat(501) })).toBe(LedgerErrorCode.INVALID_TRANSFER);
    expect(code({ memo: 'a\u0000b' })).toBe(LedgerErrorCode.INVALID_TRANSFER);
  });

  it('fingerprints every field of the request, and ignores the case of uuids', () => {
    const hash = (more: Partial<CreateTransferInput>) => {
      const r = checkRequest(input(more));
      if (!r.ok) throw new Error('refused');
      return r.hash;
    };
    const base = hash({});
    expect(hash({ debitAccountId: A.toUpperCase() })).toBe(base);
    for (const more of [{ amount: '11' }, { memo: 'm' }, { code: 'c' }, { pending: true }, { linked: true }])
      expect(hash(more)).not.toBe(base);
  });

  it('counts pending debits against a limited account and keeps both sides in step', () => {
    const wallet = account(A, { debitsMustNotExceedCredits: true, creditsPosted: 100n });
    const shop = account(B);
    const held = applyTransfer(wallet, shop, TransferKind.PENDING, 80n);
    if (isRefusal(held)) throw new Error(held.code);
    expect(held.debit.debitsPending).toBe(80n);
    expect(held.credit.creditsPending).toBe(80n);
    expect(applyTransfer(held.debit, held.credit, TransferKind.SINGLE, 21n)).toEqual({
      code: LedgerErrorCode.EXCEEDS_CREDITS,
    });
    const posted = applyTransfer(held.debit, held.credit, TransferKind.POST, 50n, 80n);
    if (isRefusal(posted)) throw new Error(posted.code);
    expect([posted.debit.debitsPending, posted.debit.debitsPosted]).toEqual([0n, 50n]);
    expect([posted.credit.creditsPending, posted.credit.creditsPosted]).toEqual([0n, 50n]);
    const capped = account(B, { creditsMustNotExceedDebits: true, debitsPosted: 5n });
    expect(applyTransfer(account(A), capped, TransferKind.SINGLE, 6n)).toEqual({
      code: LedgerErrorCode.EXCEEDS_DEBITS,
    });
    expect(applyTransfer(account(A), { ...shop, currency: 'EUR' }, TransferKind.SINGLE, 1n)).toEqual({
      code: LedgerErrorCode.CURRENCY_MISMATCH,
    });
    expect(applyTransfer(account(A, { debitsPosted: 10n ** 39n - 1n }), shop, TransferKind.SINGLE, 1n)).toEqual({
      code: LedgerErrorCode.BALANCE_OVERFLOW,
    });
  });
});
