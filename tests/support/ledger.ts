import { randomUUID } from 'node:crypto';
import type { ApiClient } from './client';

/** The data of a GraphQL answer, or an error naming the operation and what went wrong. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- ad-hoc ledger queries: the tests' assertions check the shape
export async function ledgerData<T = Record<string, any>>(
  user: ApiClient,
  query: string,
  variables?: Record<string, unknown>,
): Promise<T> {
  const res = await user.raw<T>({ query, variables });
  if (res.errors || !res.data) throw new Error(`${query.slice(0, 80)}: ${JSON.stringify(res.errors)}`);
  return res.data;
}

/** `count` transfers in batches of 500 between two accounts (made first when not given): one log entry each. */
export async function appendTransfers(
  user: ApiClient,
  count: number,
  accounts?: [string, string],
): Promise<[string, string]> {
  const pair =
    accounts ??
    ([
      await createAccount(user, `cash-${randomUUID().slice(0, 6)}`),
      await createAccount(user, `sales-${randomUUID().slice(0, 6)}`),
    ] as [string, string]);
  for (let done = 0; done < count; done += 500) {
    const input = Array.from({ length: Math.min(500, count - done) }, (_, i) => ({
      id: randomUUID(),
      debitAccountId: pair[0],
      creditAccountId: pair[1],
      amount: String(done + i + 1),
    }));
    const res = await ledgerData<{ createTransfers: { status: string; errorCode: string | null }[] }>(
      user,
      `mutation($i: [CreateTransferInput!]!) { createTransfers(input: $i) { status errorCode } }`,
      { i: input },
    );
    const failed = res.createTransfers.filter((r) => r.status !== 'CREATED');
    if (failed.length) throw new Error(`transfers refused: ${JSON.stringify(failed.slice(0, 3))}`);
  }
  return pair;
}

export async function createAccount(user: ApiClient, code: string, currency = 'EUR'): Promise<string> {
  const res = await ledgerData<{ createLedgerAccount: { id: string } }>(
    user,
    `mutation($i: CreateLedgerAccountInput!) { createLedgerAccount(input: $i) { id } }`,
    { i: { code, currency } },
  );
  return res.createLedgerAccount.id;
}
