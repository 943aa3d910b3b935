import { randomInt, randomUUID } from 'node:crypto';
import type { ApiClient, User } from './support/client';
import { sqlOn } from './support/db';
import { codes, type GqlResult } from './support/gql';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { sleep } from './support/ws';

let t: TestPlatform;
let alice: User;
let bob: User;

beforeAll(async () => {
  t = await startTestPlatform(undefined, { JOB_POLL_MS: '100' });
  alice = await t.signUp('Ledger A');
  bob = await t.signUp('Ledger B');
});
afterAll(async () => {
  await t?.stop();
});

interface Account {
  id: string;
  code: string;
  currency: string;
  debitsPending: string;
  debitsPosted: string;
  creditsPending: string;
  creditsPosted: string;
  balance: string;
  debitsMustNotExceedCredits: boolean;
  creditsMustNotExceedDebits: boolean;
  entryIndex: number;
}
interface Transfer {
  id: string;
  kind: string;
  status: string;
  debitAccountId: string;
  creditAccountId: string;
  amount: string;
  currency: string;
  pendingId: string | null;
  timeoutSeconds: number | null;
  expiresAt: string | null;
  code: string | null;
  memo: string;
  entryIndex: number;
  createdAt: string;
}
interface Result {
  id: string;
  status: 'CREATED' | 'EXISTS' | 'FAILED';
  errorCode: string | null;
  message: string | null;
  transfer: Transfer | null;
}
type NewTransfer = {
  id?: string;
  debitAccountId: string;
  creditAccountId: string;
  amount: string;
  pending?: boolean;
  timeoutSeconds?: number;
  linked?: boolean;
  code?: string;
  memo?: string;
};

const ACCOUNT = `id code currency debitsPending debitsPosted creditsPending creditsPosted balance
  debitsMustNotExceedCredits creditsMustNotExceedDebits entryIndex`;
const TRANSFER = `id kind status debitAccountId creditAccountId amount currency pendingId timeoutSeconds expiresAt
  code memo entryIndex createdAt`;

const CREATE_ACCOUNT = `mutation ($input: CreateLedgerAccountInput!) { createLedgerAccount(input: $input) { ${ACCOUNT} } }`;
const ACCOUNT_BY_ID = `query ($id: ID!) { ledgerAccount(id: $id) { ${ACCOUNT} } }`;
const ACCOUNTS = `query ($first: Int, $after: String) { ledgerAccounts(first: $first, after: $after) { ${ACCOUNT} } }`;
const CREATE_TRANSFERS = `mutation ($input: [CreateTransferInput!]!) {
  createTransfers(input: $input) { id status errorCode message transfer { ${TRANSFER} } } }`;
const POST = `mutation ($input: PostTransferInput!) { postTransfer(input: $input) { ${TRANSFER} } }`;
const VOID = `mutation ($input: VoidTransferInput!) { voidTransfer(input: $input) { ${TRANSFER} } }`;
const TRANSFERS = `query ($filter: TransferFilter, $first: Int, $after: String) {
  transfers(filter: $filter, first: $first, after: $after) { ${TRANSFER} } }`;
const ENTRY = `query ($index: Int!) { ledgerEntry(index: $index) { index type payload } }`;

function call<T>(who: ApiClient, query: string, variables: Record<string, unknown> = {}): Promise<GqlResult<T>> {
  return who.raw<T>({ query, variables });
}

function must<T>(res: GqlResult<T>): T {
  if (res.errors || !res.data) throw new Error(`request failed (HTTP ${res.status}): ${JSON.stringify(res.errors)}`);
  return res.data;
}

let codeSeq = 0;
async function openAccount(
  who: ApiClient,
  currency = 'USD',
  flags: { debitsMustNotExceedCredits?: boolean; creditsMustNotExceedDebits?: boolean } = {},
): Promise<Account> {
  const input = { code: `acct:${++codeSeq}`, currency, ...flags };
  return must(await call<{ createLedgerAccount: Account }>(who, CREATE_ACCOUNT, { input })).createLedgerAccount;
}

async function account(who: ApiClient, id: string): Promise<Account | null> {
  return must(await call<{ ledgerAccount: Account | null }>(who, ACCOUNT_BY_ID, { id })).ledgerAccount;
}

const balances = (a: Account | null) =>
  a && [a.debitsPending, a.debitsPosted, a.creditsPending, a.creditsPosted].map(String);

async function send(who: ApiClient, transfers: NewTransfer[]): Promise<Result[]> {
  const input = transfers.map((x) => ({ id: randomUUID(), ...x }));
  return must(await call<{ createTransfers: Result[] }>(who, CREATE_TRANSFERS, { input })).createTransfers;
}

const post = (who: ApiClient, input: { id?: string; pendingId: string; amount?: string }) =>
  call<{ postTransfer: Transfer }>(who, POST, { input: { id: randomUUID(), ...input } });
const voidIt = (who: ApiClient, input: { id?: string; pendingId: string }) =>
  call<{ voidTransfer: Transfer }>(who, VOID, { input: { id: randomUUID(), ...input } });

async function transfers(who: ApiClient, filter: Record<string, unknown>): Promise<Transfer[]> {
  const all: Transfer[] = [];
  let after: string | null = null;
  for (;;) {
    const page: Transfer[] = must(
      await call<{ transfers: Transfer[] }>(who, TRANSFERS, { filter, first: 200, after }),
    ).transfers;
    all.push(...page);
    if (page.length < 200) return all;
    after = String(page[page.length - 1].entryIndex);
  }
}

/** A source of funds (no limits) and a wallet that may not be overdrawn, holding `funds`. */
async function fundedWallet(who: ApiClient, funds: string, currency = 'USD') {
  const bank = await openAccount(who, currency);
  const wallet = await openAccount(who, currency, { debitsMustNotExceedCredits: true });
  const [funded] = await send(who, [{ debitAccountId: bank.id, creditAccountId: wallet.id, amount: funds }]);
  expect(funded.status).toBe('CREATED');
  return { bank, wallet };
}

describe('ledger accounts', () => {
  it('opens an account, records it in the log, and refuses the same code and currency twice', async () => {
    const input = {
      code: 'customer:1:wallet',
      currency: 'EUR',
      ownerId: alice.userId,
      debitsMustNotExceedCredits: true,
    };
    const opened = must(
      await call<{ createLedgerAccount: Account }>(alice, CREATE_ACCOUNT, { input }),
    ).createLedgerAccount;
    expect(opened).toMatchObject({ code: 'customer:1:wallet', currency: 'EUR', balance: '0', debitsPosted: '0' });
    const entry = must(
      await call<{ ledgerEntry: { type: string; payload: Record<string, unknown> } }>(alice, ENTRY, {
        index: opened.entryIndex,
      }),
    ).ledgerEntry;
    expect(entry.type).toBe('account.created');
    expect(entry.payload).toMatchObject({ id: opened.id, code: 'customer:1:wallet', currency: 'EUR' });

    expect(codes(await call(alice, CREATE_ACCOUNT, { input }))).toEqual(['ACCOUNT_EXISTS']);
    // Another currency, or a unit of the tenant's own, is another account.
    for (const currency of ['USD', 'POINTS'])
      expect((await call(alice, CREATE_ACCOUNT, { input: { ...input, currency } })).errors).toBeUndefined();
    // Another tenant has its own codes.
    expect((await call(bob, CREATE_ACCOUNT, { input })).errors).toBeUndefined();

    const refused = [
      { code: 'Upper', currency: 'USD' },
      { code: 'x'.repeat(65), currency: 'USD' },
      { code: 'ok', currency: 'usd' },
      { code: 'ok', currency: 'P' },
      { code: 'ok', currency: 'USD', debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: true },
    ];
    for (const bad of refused)
      expect(codes(await call(alice, CREATE_ACCOUNT, { input: bad }))).toEqual(['INVALID_ACCOUNT']);
  });

  it('pages accounts in the order they were opened', async () => {
    const first = must(await call<{ ledgerAccounts: Account[] }>(alice, ACCOUNTS, { first: 2 })).ledgerAccounts;
    expect(first).toHaveLength(2);
    const next = must(
      await call<{ ledgerAccounts: Account[] }>(alice, ACCOUNTS, { first: 2, after: String(first[1].entryIndex) }),
    ).ledgerAccounts;
    expect(next[0].entryIndex).toBeGreaterThan(first[1].entryIndex);
  });
});

describe('transfers', () => {
  it('moves posted balances on both sides and records the transfer in the log', async () => {
    const from = await openAccount(alice);
    const to = await openAccount(alice);
    const [r] = await send(alice, [
      {
        debitAccountId: from.id,
        creditAccountId: to.id,
        amount: '12345678901234567890',
        code: 'invoice:7',
        memo: 'Rent',
      },
    ]);
    expect(r).toMatchObject({ status: 'CREATED', errorCode: null });
    expect(r.transfer).toMatchObject({
      kind: 'SINGLE',
      status: 'POSTED',
      amount: '12345678901234567890',
      currency: 'USD',
      code: 'invoice:7',
      memo: 'Rent',
      pendingId: null,
    });
    expect(balances(await account(alice, from.id))).toEqual(['0', '12345678901234567890', '0', '0']);
    expect(balances(await account(alice, to.id))).toEqual(['0', '0', '0', '12345678901234567890']);
    expect((await account(alice, from.id))!.balance).toBe('-12345678901234567890');
    expect((await account(alice, to.id))!.balance).toBe('12345678901234567890');
    const entry = must(
      await call<{ ledgerEntry: { type: string; payload: Record<string, unknown> } }>(alice, ENTRY, {
        index: r.transfer!.entryIndex,
      }),
    ).ledgerEntry;
    expect(entry).toMatchObject({
      type: 'transfer.created',
      payload: { id: r.id, amount: '12345678901234567890', debitAccountId: from.id, memo: 'Rent', pendingId: null },
    });
    const listed = await transfers(alice, { accountId: to.id });
    expect(listed.map((x) => x.id)).toEqual([r.id]);
  });

  it('refuses what no account rule allows', async () => {
    const usd = await openAccount(alice);
    const usd2 = await openAccount(alice);
    const eur = await openAccount(alice, 'EUR');
    const results = await send(alice, [
      { debitAccountId: usd.id, creditAccountId: eur.id, amount: '1' },
      { debitAccountId: usd.id, creditAccountId: usd.id, amount: '1' },
      { debitAccountId: usd.id, creditAccountId: randomUUID(), amount: '1' },
      { debitAccountId: usd.id, creditAccountId: usd2.id, amount: '0' },
      { debitAccountId: usd.id, creditAccountId: usd2.id, amount: '1', timeoutSeconds: 5 },
    ]);
    expect(results.map((r) => r.errorCode)).toEqual([
      'CURRENCY_MISMATCH',
      'SAME_ACCOUNT',
      'ACCOUNT_NOT_FOUND',
      'INVALID_AMOUNT',
      'INVALID_TRANSFER',
    ]);
    expect(results.every((r) => r.status === 'FAILED' && r.transfer === null)).toBe(true);
    // Amounts are digit strings: no sign, no leading zero, at most 38 digits.
    for (const amount of ['-5', '05', '1.5', '1'.repeat(39), ''])
      expect(
        codes(
          await call(alice, CREATE_TRANSFERS, {
            input: [{ id: randomUUID(), debitAccountId: usd.id, creditAccountId: usd2.id, amount }],
          }),
        ),
      ).toEqual(['BAD_USER_INPUT']);
    const tooMany = Array.from({ length: 501 }, () => ({
      id: randomUUID(),
      debitAccountId: usd.id,
      creditAccountId: usd2.id,
      amount: '1',
    }));
    expect(codes(await call(alice, CREATE_TRANSFERS, { input: tooMany }))).toEqual(['BAD_USER_INPUT']);
    expect(balances(await account(alice, usd.id))).toEqual(['0', '0', '0', '0']);
  });

  it('refuses an overdraft of a limited account with EXCEEDS_CREDITS, pending amounts included', async () => {
    const { bank, wallet } = await fundedWallet(alice, '100');
    const [over] = await send(alice, [{ debitAccountId: wallet.id, creditAccountId: bank.id, amount: '101' }]);
    expect(over).toMatchObject({ status: 'FAILED', errorCode: 'EXCEEDS_CREDITS', transfer: null });
    const [held] = await send(alice, [
      { debitAccountId: wallet.id, creditAccountId: bank.id, amount: '80', pending: true },
    ]);
    expect(held.transfer).toMatchObject({ kind: 'PENDING', status: 'PENDING' });
    const [then] = await send(alice, [{ debitAccountId: wallet.id, creditAccountId: bank.id, amount: '21' }]);
    expect(then.errorCode).toBe('EXCEEDS_CREDITS');
    const [fits] = await send(alice, [{ debitAccountId: wallet.id, creditAccountId: bank.id, amount: '20' }]);
    expect(fits.status).toBe('CREATED');
    expect(balances(await account(alice, wallet.id))).toEqual(['80', '20', '0', '100']);
    // The symmetric limit: credits may not exceed debits.
    const capped = await openAccount(alice, 'USD', { creditsMustNotExceedDebits: true });
    const [refused] = await send(alice, [{ debitAccountId: bank.id, creditAccountId: capped.id, amount: '1' }]);
    expect(refused.errorCode).toBe('EXCEEDS_DEBITS');
  });

  it('posts part of a pending transfer, releases the rest, and resolves it once', async () => {
    const { bank, wallet } = await fundedWallet(alice, '100');
    const [held] = await send(alice, [
      { debitAccountId: wallet.id, creditAccountId: bank.id, amount: '70', pending: true },
    ]);
    expect(balances(await account(alice, wallet.id))).toEqual(['70', '0', '0', '100']);
    expect(codes(await post(alice, { pendingId: held.id, amount: '71' }))).toEqual(['AMOUNT_EXCEEDS_PENDING']);
    const postId = randomUUID();
    const posted = must(await post(alice, { id: postId, pendingId: held.id, amount: '60' })).postTransfer;
    expect(posted).toMatchObject({ kind: 'POST', status: 'POSTED', amount: '60', pendingId: held.id });
    expect(balances(await account(alice, wallet.id))).toEqual(['0', '60', '0', '100']);
    expect(balances(await account(alice, bank.id))).toEqual(['0', '100', '0', '60']);
    const history = await transfers(alice, { pendingId: held.id });
    expect(history.map((x) => [x.kind, x.status])).toEqual([
      ['PENDING', 'POSTED'],
      ['POST', 'POSTED'],
    ]);
    // The same post again answers the same transfer; anything else under its id is a conflict.
    expect(must(await post(alice, { id: postId, pendingId: held.id, amount: '60' })).postTransfer).toEqual(posted);
    expect(codes(await post(alice, { id: postId, pendingId: held.id, amount: '61' }))).toEqual([
      'TRANSFER_ID_CONFLICT',
    ]);
    expect(codes(await post(alice, { pendingId: held.id }))).toEqual(['PENDING_TRANSFER_ALREADY_POSTED']);
    expect(codes(await voidIt(alice, { pendingId: held.id }))).toEqual(['PENDING_TRANSFER_ALREADY_POSTED']);
    expect(codes(await post(alice, { pendingId: randomUUID() }))).toEqual(['PENDING_TRANSFER_NOT_FOUND']);
    // A transfer that was not pending cannot be posted.
    const [single] = await send(alice, [{ debitAccountId: bank.id, creditAccountId: wallet.id, amount: '1' }]);
    expect(codes(await post(alice, { pendingId: single.id }))).toEqual(['PENDING_TRANSFER_NOT_FOUND']);
    const entry = must(
      await call<{ ledgerEntry: { type: string; payload: Record<string, unknown> } }>(alice, ENTRY, {
        index: posted.entryIndex,
      }),
    ).ledgerEntry;
    expect(entry).toMatchObject({ type: 'transfer.posted', payload: { pendingId: held.id, amount: '60' } });
  });

  it('voids a pending transfer, releasing its amounts', async () => {
    const { bank, wallet } = await fundedWallet(alice, '50');
    const [held] = await send(alice, [
      { debitAccountId: wallet.id, creditAccountId: bank.id, amount: '50', pending: true },
    ]);
    const voided = must(await voidIt(alice, { pendingId: held.id })).voidTransfer;
    expect(voided).toMatchObject({ kind: 'VOID', status: 'VOIDED', amount: '50', pendingId: held.id });
    expect(balances(await account(alice, wallet.id))).toEqual(['0', '0', '0', '50']);
    expect(balances(await account(alice, bank.id))).toEqual(['0', '50', '0', '0']);
    expect(codes(await post(alice, { pendingId: held.id }))).toEqual(['PENDING_TRANSFER_ALREADY_VOIDED']);
    expect((await transfers(alice, { pendingId: held.id }))[0].status).toBe('VOIDED');
  });

  it('takes any UUID a client chooses, also for a pending transfer with a timeout', async () => {
    const { bank, wallet } = await fundedWallet(alice, '10');
    // Sequential ids (no RFC 9562 version digit), as some clients make them.
    const id = `00000000-0000-0000-0000-${randomUUID().slice(-12)}`;
    const [held] = await send(alice, [
      { id, debitAccountId: wallet.id, creditAccountId: bank.id, amount: '10', pending: true, timeoutSeconds: 3600 },
    ]);
    expect(held).toMatchObject({ id, status: 'CREATED' });
    expect(must(await voidIt(alice, { pendingId: id })).voidTransfer).toMatchObject({ status: 'VOIDED' });
  });

  it('expires a pending transfer at its timeout by a durable job, unless it was resolved first', async () => {
    const { bank, wallet } = await fundedWallet(alice, '100');
    const [left, settled] = await send(alice, [
      { debitAccountId: wallet.id, creditAccountId: bank.id, amount: '30', pending: true, timeoutSeconds: 1 },
      { debitAccountId: wallet.id, creditAccountId: bank.id, amount: '40', pending: true, timeoutSeconds: 1 },
    ]);
    expect(left.transfer!.timeoutSeconds).toBe(1);
    expect(Date.parse(left.transfer!.expiresAt!) - Date.parse(left.transfer!.createdAt)).toBe(1000);
    must(await post(alice, { pendingId: settled.id }));
    const deadline = Date.now() + 15_000;
    let history = await transfers(alice, { pendingId: left.id });
    while (history.length < 2 && Date.now() < deadline) {
      await sleep(200);
      history = await transfers(alice, { pendingId: left.id });
    }
    expect(history.map((x) => [x.kind, x.status, x.amount])).toEqual([
      ['PENDING', 'EXPIRED', '30'],
      ['EXPIRE', 'EXPIRED', '30'],
    ]);
    expect(balances(await account(alice, wallet.id))).toEqual(['0', '40', '0', '100']);
    expect(codes(await post(alice, { pendingId: left.id }))).toEqual(['PENDING_TRANSFER_ALREADY_EXPIRED']);
    const entry = must(
      await call<{ ledgerEntry: { type: string } }>(alice, ENTRY, { index: history[1].entryIndex }),
    ).ledgerEntry;
    expect(entry.type).toBe('transfer.expired');
    // The job of the posted one found it resolved and did nothing.
    await sleep(500);
    expect((await transfers(alice, { pendingId: settled.id })).map((x) => x.kind)).toEqual(['PENDING', 'POST']);
  });

  it('creates a linked chain all or nothing, independently of the rest of the batch', async () => {
    const { bank, wallet } = await fundedWallet(alice, '100');
    const shop = await openAccount(alice);
    const results = await send(alice, [
      { debitAccountId: wallet.id, creditAccountId: shop.id, amount: '60', linked: true },
      { debitAccountId: wallet.id, creditAccountId: shop.id, amount: '30', linked: true },
      { debitAccountId: wallet.id, creditAccountId: shop.id, amount: '20' },
      { debitAccountId: bank.id, creditAccountId: shop.id, amount: '5' },
      { debitAccountId: wallet.id, creditAccountId: shop.id, amount: '10', linked: true },
      { debitAccountId: wallet.id, creditAccountId: shop.id, amount: '10' },
      { debitAccountId: bank.id, creditAccountId: shop.id, amount: '1', linked: true },
    ]);
    expect(results.map((r) => [r.status, r.errorCode])).toEqual([
      ['FAILED', 'LINKED_TRANSFER_FAILED'],
      ['FAILED', 'LINKED_TRANSFER_FAILED'],
      ['FAILED', 'EXCEEDS_CREDITS'],
      ['CREATED', null],
      ['CREATED', null],
      ['CREATED', null],
      ['FAILED', 'LINKED_CHAIN_OPEN'],
    ]);
    expect(balances(await account(alice, wallet.id))).toEqual(['0', '20', '0', '100']);
    expect(balances(await account(alice, shop.id))).toEqual(['0', '0', '0', '25']);
  });

  it('answers EXISTS to the same transfer sent again and TRANSFER_ID_CONFLICT to a different one', async () => {
    const from = await openAccount(alice);
    const to = await openAccount(alice);
    const batch = [
      { id: randomUUID(), debitAccountId: from.id, creditAccountId: to.id, amount: '7', memo: 'once' },
      { id: randomUUID(), debitAccountId: from.id, creditAccountId: to.id, amount: '8', pending: true },
    ];
    const first = await send(alice, batch);
    expect(first.map((r) => r.status)).toEqual(['CREATED', 'CREATED']);
    const again = await send(alice, batch);
    expect(again.map((r) => r.status)).toEqual(['EXISTS', 'EXISTS']);
    expect(again.map((r) => r.transfer)).toEqual(first.map((r) => r.transfer));
    expect(balances(await account(alice, from.id))).toEqual(['8', '7', '0', '0']);
    const changed = await send(alice, [
      { ...batch[0], amount: '9' },
      { ...batch[1], memo: 'other' },
    ]);
    expect(changed.map((r) => [r.status, r.errorCode])).toEqual([
      ['FAILED', 'TRANSFER_ID_CONFLICT'],
      ['FAILED', 'TRANSFER_ID_CONFLICT'],
    ]);
    // The same id twice in one batch: the second is the first sent again.
    const id = randomUUID();
    const twice = await send(alice, [
      { id, debitAccountId: from.id, creditAccountId: to.id, amount: '1' },
      { id, debitAccountId: from.id, creditAccountId: to.id, amount: '1' },
    ]);
    expect(twice.map((r) => r.status)).toEqual(['CREATED', 'EXISTS']);
    expect(balances(await account(alice, from.id))).toEqual(['8', '8', '0', '0']);
  });

  it('numbers a batch in input order, each chain standing or falling alone', async () => {
    const { bank, wallet } = await fundedWallet(alice, '1000');
    const shop = await openAccount(alice);
    const repeated = randomUUID();
    const batch: NewTransfer[] = [];
    for (let i = 0; i < 100; i++) {
      const over = i % 10 === 3;
      batch.push(
        { debitAccountId: wallet.id, creditAccountId: shop.id, amount: over ? '1000' : '5', linked: true },
        { debitAccountId: bank.id, creditAccountId: shop.id, amount: '1', pending: i % 2 === 0 },
      );
    }
    batch.push({ id: repeated, debitAccountId: bank.id, creditAccountId: shop.id, amount: '2' });
    batch.push({ id: repeated, debitAccountId: bank.id, creditAccountId: shop.id, amount: '2' });
    const results = await send(alice, batch);
    const created = results.filter((r) => r.status === 'CREATED');
    expect(created).toHaveLength(181);
    results.slice(0, 200).forEach((r, i) => {
      const over = Math.floor(i / 2) % 10 === 3;
      expect([r.status, r.errorCode]).toEqual(
        over ? ['FAILED', i % 2 ? 'LINKED_TRANSFER_FAILED' : 'EXCEEDS_CREDITS'] : ['CREATED', null],
      );
    });
    expect(results.slice(200).map((r) => r.status)).toEqual(['CREATED', 'EXISTS']);
    expect(results[201].transfer).toEqual(results[200].transfer);
    const first = created[0].transfer!.entryIndex;
    expect(created.map((r) => r.transfer!.entryIndex)).toEqual(created.map((_, i) => first + i));
    for (const r of [created[0], created[1], created[180]]) {
      const entry = must(
        await call<{ ledgerEntry: { type: string; payload: Record<string, unknown> } }>(alice, ENTRY, {
          index: r.transfer!.entryIndex,
        }),
      ).ledgerEntry;
      expect(entry.payload).toMatchObject({ id: r.id, amount: r.transfer!.amount });
    }
    expect(balances(await account(alice, wallet.id))).toEqual(['0', '450', '0', '1000']);
    expect(balances(await account(alice, shop.id))).toEqual(['0', '0', '50', '492']);
  });

  it('writes the chains one by one when the database refuses what the checks let through', async () => {
    const from = await openAccount(alice);
    const to = await openAccount(alice);
    // A rule only the database knows: the batch as a whole is refused, then each chain is tried alone.
    const refused = 'refused by the database';
    await sqlOn(
      t.databaseUrl,
      `ALTER TABLE ledger.transfers ADD CONSTRAINT transfers_test_refusal CHECK (memo <> '${refused}') NOT VALID`,
    );
    let results: Result[];
    try {
      results = await send(alice, [
        { debitAccountId: from.id, creditAccountId: to.id, amount: '1' },
        { debitAccountId: from.id, creditAccountId: to.id, amount: '2', linked: true },
        { debitAccountId: from.id, creditAccountId: to.id, amount: '4', memo: refused },
        { debitAccountId: from.id, creditAccountId: to.id, amount: '8', pending: true, timeoutSeconds: 3600 },
      ]);
    } finally {
      await sqlOn(t.databaseUrl, `ALTER TABLE ledger.transfers DROP CONSTRAINT transfers_test_refusal`);
    }
    expect(results.map((r) => [r.status, r.errorCode])).toEqual([
      ['CREATED', null],
      ['FAILED', 'INVALID_TRANSFER'],
      ['FAILED', 'LINKED_TRANSFER_FAILED'],
      ['CREATED', null],
    ]);
    expect(results[3].transfer!.entryIndex).toBe(results[0].transfer!.entryIndex + 1);
    expect(balances(await account(alice, from.id))).toEqual(['8', '1', '0', '0']);
    expect(balances(await account(alice, to.id))).toEqual(['0', '0', '8', '1']);
    const listed = await transfers(alice, { accountId: from.id });
    expect(listed.map((x) => [x.id, x.entryIndex])).toEqual(
      [results[0], results[3]].map((r) => [r.id, r.transfer!.entryIndex]),
    );
    const entry = must(
      await call<{ ledgerEntry: { payload: Record<string, unknown> } }>(alice, ENTRY, {
        index: results[3].transfer!.entryIndex,
      }),
    ).ledgerEntry;
    expect(entry.payload).toMatchObject({ id: results[3].id, amount: '8' });
  });

  it('keeps debits equal to credits in every currency under 1,000 concurrent random transfers', async () => {
    const currencies = ['USD', 'POINTS'];
    const accounts: Account[] = [];
    for (const currency of currencies) {
      for (let i = 0; i < 2; i++) accounts.push(await openAccount(alice, currency));
      for (let i = 0; i < 3; i++) {
        const { bank, wallet } = await fundedWallet(alice, String(randomInt(500, 2000)), currency);
        accounts.push(bank, wallet);
      }
      accounts.push(await openAccount(alice, currency, { creditsMustNotExceedDebits: true }));
    }
    const pick = (currency: string) => {
      const of = accounts.filter((a) => a.currency === currency);
      return of[randomInt(of.length)].id;
    };
    const random = (): NewTransfer => {
      const currency = currencies[randomInt(currencies.length)];
      const debit = pick(currency);
      let credit = pick(currency);
      while (credit === debit) credit = pick(currency);
      // Some go across currencies (and some overdraw a wallet): they fail, and must leave no trace.
      if (randomInt(20) === 0) credit = pick(currencies.find((c) => c !== currency)!);
      return { debitAccountId: debit, creditAccountId: credit, amount: String(randomInt(1, 60)) };
    };
    const outcomes = { created: 0, failed: 0, posted: 0, voided: 0 };
    const worker = async () => {
      const pending: string[] = [];
      for (let b = 0; b < 5; b++) {
        const batch: NewTransfer[] = [];
        while (batch.length < 25) {
          const roll = randomInt(10);
          if (roll < 2 && batch.length < 23) {
            // A linked chain of 2 or 3.
            const n = randomInt(2, 4);
            for (let i = 0; i < n; i++) batch.push({ ...random(), linked: i < n - 1 });
          } else batch.push({ ...random(), pending: roll >= 7 });
        }
        const results = await send(alice, batch);
        results.forEach((r, i) => {
          outcomes[r.status === 'CREATED' ? 'created' : 'failed']++;
          if (r.status === 'CREATED' && batch[i].pending) pending.push(r.id);
        });
        while (pending.length > 3) {
          const pendingId = pending.splice(randomInt(pending.length), 1)[0];
          const amount = randomInt(3) === 0 ? undefined : '1';
          const posting = randomInt(2) === 0;
          const res = posting ? await post(alice, { pendingId, amount }) : await voidIt(alice, { pendingId });
          expect(res.errors).toBeUndefined();
          outcomes[posting ? 'posted' : 'voided']++;
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(outcomes.created + outcomes.failed).toBeGreaterThanOrEqual(1000);
    expect(outcomes.created).toBeGreaterThan(500);
    expect(outcomes.failed).toBeGreaterThan(0);

    const after = await Promise.all(accounts.map((a) => account(alice, a.id)));
    for (const currency of currencies) {
      const of = after.filter((a) => a!.currency === currency);
      const sum = (f: keyof Account) => of.reduce((s, a) => s + BigInt(a![f] as string), 0n);
      expect(sum('debitsPosted')).toBe(sum('creditsPosted'));
      expect(sum('debitsPending')).toBe(sum('creditsPending'));
    }
    for (const a of after) {
      if (a!.debitsMustNotExceedCredits)
        expect(BigInt(a!.debitsPosted) + BigInt(a!.debitsPending)).toBeLessThanOrEqual(BigInt(a!.creditsPosted));
      if (a!.creditsMustNotExceedDebits)
        expect(BigInt(a!.creditsPosted) + BigInt(a!.creditsPending)).toBeLessThanOrEqual(BigInt(a!.debitsPosted));
    }
    // Every balance is what the tenant's transfers add up to.
    const history = await transfers(alice, {});
    const pendingAmount = new Map(history.filter((x) => x.kind === 'PENDING').map((x) => [x.id, BigInt(x.amount)]));
    const moved = new Map(accounts.map((a) => [a.id, [0n, 0n, 0n, 0n]]));
    for (const x of history) {
      const amount = BigInt(x.amount);
      for (const [side, id] of [
        [0, x.debitAccountId],
        [2, x.creditAccountId],
      ] as const) {
        const m = moved.get(id);
        if (!m) continue;
        if (x.kind === 'SINGLE' || x.kind === 'POST') m[side + 1] += amount;
        if (x.kind === 'PENDING') m[side] += amount;
        if (x.kind !== 'SINGLE' && x.kind !== 'PENDING') m[side] -= pendingAmount.get(x.pendingId!)!;
      }
    }
    for (const a of after) expect(balances(a)).toEqual(moved.get(a!.id)!.map(String));
  });
});

describe('tenant isolation', () => {
  it("keeps another tenant from reading or using a tenant's accounts and transfers", async () => {
    const { bank, wallet } = await fundedWallet(alice, '100');
    const [held] = await send(alice, [
      { debitAccountId: wallet.id, creditAccountId: bank.id, amount: '10', pending: true },
    ]);
    expect(await account(bob, wallet.id)).toBeNull();
    const bobs = must(await call<{ ledgerAccounts: Account[] }>(bob, ACCOUNTS, { first: 200 })).ledgerAccounts;
    expect(bobs.map((a) => a.id)).not.toContain(wallet.id);
    expect(await transfers(bob, { accountId: wallet.id })).toEqual([]);
    expect(await transfers(bob, { pendingId: held.id })).toEqual([]);
    const mine = await openAccount(bob);
    const [used] = await send(bob, [{ debitAccountId: mine.id, creditAccountId: wallet.id, amount: '1' }]);
    expect(used.errorCode).toBe('ACCOUNT_NOT_FOUND');
    expect(codes(await post(bob, { pendingId: held.id }))).toEqual(['PENDING_TRANSFER_NOT_FOUND']);
    expect(codes(await voidIt(bob, { pendingId: held.id }))).toEqual(['PENDING_TRANSFER_NOT_FOUND']);
    // Transfer ids are the tenant's own: the same id in another tenant is another transfer.
    const other = await openAccount(bob);
    const [same] = await send(bob, [{ id: held.id, debitAccountId: mine.id, creditAccountId: other.id, amount: '1' }]);
    expect(same.status).toBe('CREATED');
    expect(balances(await account(alice, wallet.id))).toEqual(['10', '0', '0', '100']);
  });
});
