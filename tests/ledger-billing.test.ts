import { randomUUID } from 'node:crypto';
import { LedgerEntriesDocument, VerifyLedgerDocument } from './generated/graphql';
import type { User } from './support/client';
import { sqlOn } from './support/db';
import { createAccount, ledgerData } from './support/ledger';
import { startTestPlatform, type TestPlatform } from './support/platform';

/**
 * The platform's billing of a tenant — paid invoices, refunds, disputes — is booked in the tenant's own ledger:
 * each event is its log entry and also transfers between the tenant's billing accounts, once, whatever the bus
 * or the payment provider repeats.
 */
let t: TestPlatform;
let owner: User;
let other: User;

beforeAll(async () => {
  // The PostgreSQL bus, whose consumer positions the redelivery test rewinds.
  t = await startTestPlatform(undefined, { REDIS_URL: '' });
  owner = await t.signUp('Billed Tenant');
  other = await t.signUp('Bystanders');
}, 60_000);
afterAll(async () => {
  await t?.stop();
});

interface Account {
  id: string;
  code: string;
  currency: string;
  ownerId: string | null;
  debitsPosted: string;
  creditsPosted: string;
  debitsPending: string;
  creditsPending: string;
  balance: string;
  entryIndex: number;
}
interface Transfer {
  id: string;
  kind: string;
  debitAccountId: string;
  creditAccountId: string;
  amount: string;
  currency: string;
  code: string | null;
  memo: string;
  entryIndex: number;
}
type Entry = { index: number; type: string; payload: Record<string, unknown>; sourceEventId: string | null };

const ACCOUNTS = `query ($filter: LedgerAccountFilter) { ledgerAccounts(filter: $filter, first: 200) {
  id code currency ownerId debitsPosted creditsPosted debitsPending creditsPending balance entryIndex } }`;
const TRANSFERS = `query ($filter: TransferFilter) { transfers(filter: $filter, first: 200) {
  id kind debitAccountId creditAccountId amount currency code memo entryIndex } }`;

async function accounts(user: User, currency?: string): Promise<Account[]> {
  const filter = currency ? { currency } : {};
  return (await ledgerData<{ ledgerAccounts: Account[] }>(user, ACCOUNTS, { filter })).ledgerAccounts;
}

/** Balances (credits − debits) of the user's billing accounts in `currency`, by code. */
async function balances(user: User, currency: string): Promise<Record<string, string>> {
  const found = (await accounts(user, currency)).filter((a) => a.code.startsWith('billing.'));
  return Object.fromEntries(found.map((a) => [a.code, a.balance]));
}

async function transfers(user: User): Promise<Transfer[]> {
  return (await ledgerData<{ transfers: Transfer[] }>(user, TRANSFERS, { filter: {} })).transfers;
}

async function entries(user: User, filter: { type?: string; sourceEventId?: string } = {}): Promise<Entry[]> {
  const res = await user.gql(LedgerEntriesDocument, { filter, first: 200 });
  if (!res.data) throw new Error(`ledgerEntries failed: ${JSON.stringify(res.errors)}`);
  return res.data.ledgerEntries.nodes as Entry[];
}

/** Records a commerce event on commerce's outbox, as commerce does in the transaction of the change. */
async function publish(type: string, payload: { tenantId: string } & Record<string, unknown>): Promise<string> {
  const id = randomUUID();
  await sqlOn(t.databaseUrl, `INSERT INTO commerce.outbox (id, tenant_id, type, payload) VALUES ($1, $2, $3, $4)`, [
    id,
    payload.tenantId,
    type,
    JSON.stringify(payload),
  ]);
  return id;
}

/** Waits until the ledger's writers have taken the event (it is in `processed_events`). */
async function consumed(eventId: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const rows = await sqlOn(
      t.databaseUrl,
      `SELECT 1 FROM ledger.processed_events WHERE consumer = 'ledger-writers' AND event_id = $1`,
      [eventId],
    );
    if (rows.length > 0) return;
    if (Date.now() > deadline) throw new Error(`event ${eventId} was not consumed`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Publishes an event for `owner`'s tenant and waits until its entry is in the tenant's log. */
async function book(type: string, payload: Record<string, unknown>, user: User = owner): Promise<string> {
  const id = await publish(type, { tenantId: user.tenantId, ...payload });
  await consumed(id);
  expect(await entries(user, { sourceEventId: id })).toEqual([
    expect.objectContaining({ type, sourceEventId: id, payload: { tenantId: user.tenantId, ...payload } }),
  ]);
  return id;
}

const eventIds: string[] = [];

describe('platform billing in the ledger', () => {
  it('books a paid invoice from the payments account to the platform account, opening both', async () => {
    eventIds.push(
      await book('commerce.invoice_paid', {
        invoiceId: 'in_1001',
        customerId: 'cus_1',
        subscriptionId: 'sub_1',
        amount: '12345',
        currency: 'EUR',
      }),
    );
    const opened = (await accounts(owner, 'EUR')).filter((a) => a.code.startsWith('billing.'));
    expect(opened.map((a) => [a.code, a.ownerId])).toEqual([
      ['billing.payments', owner.tenantId],
      ['billing.platform', 'platform'],
    ]);
    const [payments, platform] = opened;
    expect(payments).toMatchObject({ debitsPosted: '12345', creditsPosted: '0', balance: '-12345' });
    expect(platform).toMatchObject({ debitsPosted: '0', creditsPosted: '12345', balance: '12345' });
    const [paid] = await transfers(owner);
    expect(paid).toMatchObject({
      kind: 'SINGLE',
      debitAccountId: payments.id,
      creditAccountId: platform.id,
      amount: '12345',
      currency: 'EUR',
      code: 'billing.invoice_paid',
      memo: 'Invoice in_1001 paid',
    });
    // The event's entry, then the accounts' and the transfer's entries, in the same log.
    const [event] = await entries(owner, { sourceEventId: eventIds[0] });
    const created = await entries(owner, { type: 'account.created' });
    const [moved] = await entries(owner, { type: 'transfer.created' });
    expect(created.filter((e) => e.index > event.index).map((e) => e.payload.code)).toEqual([
      'billing.payments',
      'billing.platform',
    ]);
    expect(moved).toMatchObject({
      index: paid.entryIndex,
      payload: { id: paid.id, debitAccountId: payments.id, creditAccountId: platform.id, amount: '12345' },
    });
    expect(moved.index).toBeGreaterThan(event.index);
  });

  it('keeps the billing accounts to the platform: a tenant can neither open one nor move money in them', async () => {
    const opened = await owner.raw({
      query: `mutation($i: CreateLedgerAccountInput!) { createLedgerAccount(input: $i) { id } }`,
      variables: { i: { code: 'billing.platform', currency: 'USD' } },
    });
    expect(opened.errors?.[0]?.extensions?.code).toBe('INVALID_ACCOUNT');
    const [payments, platform] = (await accounts(owner, 'EUR')).filter((a) => a.code.startsWith('billing.'));
    const cash = await createAccount(owner, `cash-${randomUUID().slice(0, 6)}`);
    const moved = await ledgerData<{ createTransfers: { status: string; errorCode: string | null }[] }>(
      owner,
      `mutation($i: [CreateTransferInput!]!) { createTransfers(input: $i) { status errorCode } }`,
      {
        i: [
          { id: randomUUID(), debitAccountId: platform.id, creditAccountId: payments.id, amount: '12345' },
          { id: randomUUID(), debitAccountId: cash, creditAccountId: platform.id, amount: '1' },
        ],
      },
    );
    expect(moved.createTransfers).toEqual([
      { status: 'FAILED', errorCode: 'INVALID_TRANSFER' },
      { status: 'FAILED', errorCode: 'INVALID_TRANSFER' },
    ]);
    expect((await accounts(owner, 'EUR')).find((a) => a.id === platform.id)).toMatchObject({ creditsPosted: '12345' });
  });

  it('books a refund back from the platform to the payments account', async () => {
    eventIds.push(
      await book('commerce.refunded', {
        refundId: 're_1',
        invoiceId: 'in_1001',
        amount: '2345',
        currency: 'EUR',
        reason: 'requested_by_customer',
      }),
    );
    expect(await balances(owner, 'EUR')).toEqual({ 'billing.payments': '-10000', 'billing.platform': '10000' });
    const refund = (await transfers(owner)).find((x) => x.code === 'billing.refund');
    expect(refund).toMatchObject({ amount: '2345', memo: 'Refund re_1 (invoice in_1001)' });
  });

  it('holds disputed money in the disputes account and returns it when the dispute is won', async () => {
    eventIds.push(
      await book('commerce.disputed', {
        disputeId: 'du_1',
        invoiceId: 'in_1001',
        amount: '3000',
        currency: 'EUR',
        status: 'open',
      }),
    );
    expect(await balances(owner, 'EUR')).toEqual({
      'billing.payments': '-10000',
      'billing.platform': '7000',
      'billing.disputes': '3000',
    });
    eventIds.push(
      await book('commerce.disputed', {
        disputeId: 'du_1',
        invoiceId: 'in_1001',
        amount: '3000',
        currency: 'EUR',
        status: 'won',
      }),
    );
    expect(await balances(owner, 'EUR')).toEqual({
      'billing.payments': '-10000',
      'billing.platform': '10000',
      'billing.disputes': '0',
    });
    const disputes = (await transfers(owner)).filter((x) => x.code?.startsWith('billing.dispute'));
    expect(disputes.map((x) => [x.code, x.amount, x.memo])).toEqual([
      ['billing.dispute_opened', '3000', 'Dispute du_1 opened (invoice in_1001)'],
      ['billing.dispute_won', '3000', 'Dispute du_1 won (invoice in_1001)'],
    ]);
  });

  it('gives a lost dispute back to the tenant, even when its opening arrives after its closing', async () => {
    const dispute = { disputeId: 'du_2', amount: '1500', currency: 'EUR' };
    eventIds.push(await book('commerce.disputed', { ...dispute, status: 'lost' }));
    const after = { 'billing.payments': '-8500', 'billing.platform': '8500', 'billing.disputes': '0' };
    expect(await balances(owner, 'EUR')).toEqual(after);
    eventIds.push(await book('commerce.disputed', { ...dispute, status: 'open' }));
    expect(await balances(owner, 'EUR')).toEqual(after);
    const du2 = (await transfers(owner)).filter((x) => x.memo.startsWith('Dispute du_2'));
    expect(du2.map((x) => x.code)).toEqual(['billing.dispute_opened', 'billing.dispute_lost']);
  });

  it('keeps each currency in accounts of its own', async () => {
    eventIds.push(await book('commerce.invoice_paid', { invoiceId: 'in_2001', amount: '999', currency: 'USD' }));
    expect(await balances(owner, 'USD')).toEqual({ 'billing.payments': '-999', 'billing.platform': '999' });
    expect((await balances(owner, 'EUR'))['billing.platform']).toBe('8500');
  });

  it('moves nothing for an invoice of 0', async () => {
    const before = await transfers(owner);
    await book('commerce.invoice_paid', { invoiceId: 'in_free', amount: '0', currency: 'GBP' });
    expect(await transfers(owner)).toEqual(before);
    expect(await balances(owner, 'GBP')).toEqual({});
  });

  it('books an invoice, a refund and a dispute step once when the provider reports them again', async () => {
    const before = await transfers(owner);
    const beforeEur = await balances(owner, 'EUR');
    // New events (new ids: the provider's notice recorded twice) about what is booked already.
    await book('commerce.invoice_paid', { invoiceId: 'in_1001', amount: '12345', currency: 'EUR' });
    await book('commerce.refunded', { refundId: 're_1', invoiceId: 'in_1001', amount: '2345', currency: 'EUR' });
    await book('commerce.disputed', { disputeId: 'du_1', amount: '3000', currency: 'EUR', status: 'won' });
    // A dispute closes once: a later, contradicting outcome does not move the money again.
    await book('commerce.disputed', { disputeId: 'du_1', amount: '3000', currency: 'EUR', status: 'lost' });
    expect(await transfers(owner)).toEqual(before);
    expect(await balances(owner, 'EUR')).toEqual(beforeEur);
  });

  it('changes nothing when the bus delivers the same events again', async () => {
    const before = { transfers: await transfers(owner), entries: await entries(owner) };
    // As after a crash before the event was marked processed: the writers take every event again.
    await sqlOn(t.databaseUrl, `DELETE FROM ledger.processed_events WHERE consumer = 'ledger-writers'`);
    const [group] = await sqlOn(
      t.databaseUrl,
      `UPDATE nexus_bus.consumer_groups SET position = 0 WHERE name = 'ledger.ledger-writers' RETURNING types`,
    );
    expect(group).toBeDefined();
    for (const id of eventIds) await consumed(id);
    const [{ last }] = await sqlOn(
      t.databaseUrl,
      `SELECT max(seq)::bigint AS last FROM nexus_bus.events WHERE type = ANY($1)`,
      [group.types],
    );
    const deadline = Date.now() + 20_000;
    for (;;) {
      const [{ position }] = await sqlOn(
        t.databaseUrl,
        `SELECT position FROM nexus_bus.consumer_groups WHERE name = 'ledger.ledger-writers'`,
      );
      if (BigInt(position as string) >= BigInt(last as string)) break;
      if (Date.now() > deadline) throw new Error(`replay stuck at ${String(position)} of ${String(last)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await transfers(owner)).toEqual(before.transfers);
    expect(await entries(owner)).toEqual(before.entries);
  });

  it('keeps the log verifiable: every account and transfer recorded, every currency balanced', async () => {
    const res = await owner.gql(VerifyLedgerDocument, {});
    expect(res.errors).toBeUndefined();
    expect(res.data!.verifyLedger).toMatchObject({ ok: true, firstBadIndex: null, problem: null });
    const all = await transfers(owner);
    const moved = await entries(owner, { type: 'transfer.created' });
    expect(moved.map((e) => e.payload.id)).toEqual(all.map((x) => x.id));
    for (const currency of ['EUR', 'USD']) {
      const sum = Object.values(await balances(owner, currency)).reduce((a, b) => a + BigInt(b), 0n);
      expect(sum).toBe(0n);
    }
  });

  it("shows another tenant none of it, and books that tenant's billing in its own ledger", async () => {
    expect((await accounts(other)).filter((a) => a.code.startsWith('billing.'))).toEqual([]);
    expect(await transfers(other)).toEqual([]);
    for (const type of ['commerce.invoice_paid', 'commerce.refunded', 'commerce.disputed'])
      expect(await entries(other, { type })).toEqual([]);
    for (const id of eventIds) expect(await entries(other, { sourceEventId: id })).toEqual([]);

    await book('commerce.invoice_paid', { invoiceId: 'in_1001', amount: '500', currency: 'EUR' }, other);
    expect(await balances(other, 'EUR')).toEqual({ 'billing.payments': '-500', 'billing.platform': '500' });
    const [mine, theirs] = [await accounts(owner, 'EUR'), await accounts(other, 'EUR')];
    const ids = new Set(mine.map((a) => a.id));
    for (const a of theirs) expect(ids.has(a.id)).toBe(false);
    expect(await balances(owner, 'EUR')).toEqual({
      'billing.payments': '-8500',
      'billing.platform': '8500',
      'billing.disputes': '0',
    });
  });

  it('writes nothing for a tenant whose log was purged', async () => {
    const gone = randomUUID();
    await sqlOn(t.databaseUrl, `INSERT INTO ledger.purged_logs (owner_tenant) VALUES ($1)`, [gone]);
    const id = await publish('commerce.invoice_paid', {
      tenantId: gone,
      invoiceId: 'in_late',
      amount: '700',
      currency: 'EUR',
    });
    await consumed(id);
    for (const table of ['heads', 'entries', 'accounts', 'transfers'])
      expect(await sqlOn(t.databaseUrl, `SELECT 1 FROM ledger.${table} WHERE tenant_id = $1`, [gone])).toEqual([]);
  });
});
