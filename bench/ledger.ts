import { randomInt, randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import type { Config } from '../kernel/config';
import { systemContext, type RequestContext } from '../kernel/context';
import { createSubgraphDataSource } from '../kernel/db/data-source';
import { withTenant } from '../kernel/db/tenant-scope';
import { PostgresEventBus } from '../kernel/event-bus';
import { OutboxRelay } from '../kernel/events';
import type { PlatformKeys } from '../kernel/keys';
import { createPubSub } from '../kernel/pubsub';
import { migrateAll } from '../kernel/runtime';
import type { SubgraphDeps } from '../kernel/subgraph';
import { LedgerAccountService } from '../subgraphs/ledger/accounts/ledger-account.service';
import { ledgerSubgraph } from '../subgraphs/ledger/ledger.subgraph';
import { LogVerifier } from '../subgraphs/ledger/log/log-verify.service';
import { LedgerLog, type NewEntry } from '../subgraphs/ledger/log/log.service';
import type { CreateTransferInput } from '../subgraphs/ledger/transfers/create-transfer.input';
import { CreateTransferStatus, type Transfer } from '../subgraphs/ledger/transfers/transfer.entity';
import { TransferService } from '../subgraphs/ledger/transfers/transfer.service';
import { TRANSFER_ENTRY_TYPES } from '../subgraphs/ledger/transfers/transfer.writer';

/**
 * The ledger, through its own services on one DataSource of the ledger schema (no HTTP, no GraphQL):
 * 1. createTransfers throughput (transfer rows, balances, log entries, Merkle nodes, checkpoints) against the
 *    same rows INSERTed plainly into scratch tables (same columns and indexes; no triggers, checks, foreign keys,
 *    RLS, Merkle tree or balance checks), same batches, same concurrency, one transaction per batch;
 * 2. a log of BENCH_LEDGER_ENTRIES entries appended in large batches, then inclusion and consistency proof latency
 *    (each proof in its own tenant transaction, as a request would read it);
 * 3. LogVerifier over that whole log.
 */
export interface LedgerBenchInput {
  databaseUrl: string;
  poolSize: number;
  config: Config;
  keys: PlatformKeys;
  /** Transfers per mode of part 1. */
  transfers: number;
  /** Transfers per createTransfers call. */
  batch: number;
  /** Concurrent callers. */
  callers: number;
  /** Size of the log of parts 2 and 3. */
  entries: number;
  /** Entries per append transaction while building it. */
  appendBatch: number;
  /** Proofs of each kind. */
  proofs: number;
}

interface Throughput {
  name: string;
  perSecond: number;
  p50: number;
  p99: number;
}

export interface LedgerBenchResult {
  transfers: { mode: string; ledger: Throughput; baseline: Throughput }[];
  build: { seconds: number; size: number };
  proofs: { name: string; p50: number; p99: number; max: number; mean: number }[];
  verify: { seconds: number; entries: number; ok: boolean; problem: string | null };
}

const ACCOUNTS_PER_TENANT = 50;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs `work` over `batches` with `callers` concurrent callers; throughput counts `perBatch` items a batch. */
async function drive<T>(
  name: string,
  batches: T[],
  callers: number,
  perBatch: (b: T) => number,
  work: (b: T, caller: number) => Promise<void>,
): Promise<Throughput> {
  const latencies: number[] = [];
  let next = 0;
  let items = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      while (next < batches.length) {
        const b = batches[next++];
        const t0 = performance.now();
        await work(b, caller);
        latencies.push(performance.now() - t0);
        items += perBatch(b);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { name, perSecond: items / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const tenantContext = (tenantId: string): RequestContext => systemContext('bench-ledger', tenantId);

async function openAccounts(deps: SubgraphDeps, tenantId: string): Promise<string[]> {
  const accounts = new LedgerAccountService(deps);
  const ids: string[] = [];
  for (let i = 0; i < ACCOUNTS_PER_TENANT; i++) {
    const a = await accounts.create(tenantContext(tenantId), {
      code: `bench:${i}`,
      currency: 'EUR',
      debitsMustNotExceedCredits: false,
      creditsMustNotExceedDebits: false,
    });
    ids.push(a.id);
  }
  return ids;
}

function transferInputs(accounts: string[], count: number): CreateTransferInput[] {
  return Array.from({ length: count }, () => {
    const debit = randomInt(accounts.length);
    const credit = (debit + 1 + randomInt(accounts.length - 1)) % accounts.length;
    return {
      id: randomUUID(),
      debitAccountId: accounts[debit],
      creditAccountId: accounts[credit],
      amount: String(randomInt(1, 1_000_000)),
      pending: false,
      linked: false,
      memo: '',
    };
  });
}

/** The entry text the ledger stores for a transfer (its keys already in RFC 8785 order). */
function entryData(t: Transfer): string {
  const payload = {
    amount: t.amount,
    code: t.code,
    creditAccountId: t.creditAccountId,
    currency: t.currency,
    debitAccountId: t.debitAccountId,
    id: t.id,
    memo: t.memo,
    pendingId: t.pendingId,
  };
  return JSON.stringify({
    index: t.entryIndex,
    payload,
    sourceEventId: null,
    time: t.createdAt.toISOString(),
    type: TRANSFER_ENTRY_TYPES[t.kind],
  });
}

/** Part 1, for one layout of callers over tenants: the services, then the same rows as plain INSERTs. */
async function transferThroughput(
  deps: SubgraphDeps,
  input: LedgerBenchInput,
  mode: string,
  tenants: { id: string; accounts: string[] }[],
): Promise<{ mode: string; ledger: Throughput; baseline: Throughput }> {
  const service = new TransferService(deps);
  const calls = Math.ceil(input.transfers / input.batch);
  const batches = Array.from({ length: calls }, (_, i) => {
    const tenant = tenants[i % tenants.length];
    return { tenant: tenant.id, inputs: transferInputs(tenant.accounts, input.batch), rows: [] as Transfer[] };
  });
  // Warm-up (not timed, not replayed in the baseline).
  for (const t of tenants) await service.create(tenantContext(t.id), transferInputs(t.accounts, input.batch));
  // With one tenant per caller, caller i writes only tenant i's batches (batches alternate tenants in order).
  const queues = tenants.length === 1 ? [batches] : tenants.map((t) => batches.filter((b) => b.tenant === t.id));
  const run = async <T>(name: string, work: (b: (typeof batches)[number]) => Promise<T>) => {
    const results = await Promise.all(
      queues.map((q) =>
        drive(
          name,
          q,
          tenants.length === 1 ? input.callers : 1,
          (b) => b.inputs.length,
          async (b) => {
            await work(b);
          },
        ),
      ),
    );
    // Callers ran at the same time: their rates add up; latencies are each queue's.
    return {
      name,
      perSecond: results.reduce((s, r) => s + r.perSecond, 0),
      p50: Math.max(...results.map((r) => r.p50)),
      p99: Math.max(...results.map((r) => r.p99)),
    };
  };
  const ledger = await run('createTransfers (TransferService)', async (b) => {
    const results = await service.create(tenantContext(b.tenant), b.inputs);
    const failed = results.find((r) => r.status !== CreateTransferStatus.CREATED);
    if (failed) throw new Error(`transfer ${failed.id}: ${failed.status} ${failed.errorCode} ${failed.message}`);
    b.rows = results.map((r) => r.transfer!);
  });
  const baseline = await run('baseline: plain INSERTs', (b) =>
    deps.ds.transaction(async (em) => {
      const rows = b.rows;
      await em.query(
        `INSERT INTO bench_ledger.transfers (tenant_id, id, kind, debit_account_id, credit_account_id, amount, currency,
           pending_id, timeout_seconds, expires_at, code, memo, request_hash, entry_idx, created_at)
         SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::uuid[], $5::uuid[], $6::numeric[], $7::text[], $8::uuid[],
           $9::int[], $10::timestamptz[], $11::text[], $12::text[], $13::text[], $14::bigint[], $15::timestamptz[])`,
        [
          b.tenant,
          rows.map((t) => t.id),
          rows.map((t) => t.kind),
          rows.map((t) => t.debitAccountId),
          rows.map((t) => t.creditAccountId),
          rows.map((t) => t.amount),
          rows.map((t) => t.currency),
          rows.map((t) => t.pendingId),
          rows.map((t) => t.timeoutSeconds),
          rows.map((t) => t.expiresAt),
          rows.map((t) => t.code),
          rows.map((t) => t.memo),
          rows.map((t) => t.requestHash),
          rows.map((t) => t.entryIndex),
          rows.map((t) => t.createdAt),
        ],
      );
      await em.query(
        `INSERT INTO bench_ledger.entries (tenant_id, idx, type, data, source_event_id, created_at)
         SELECT $1, i, t, d, NULL, $5 FROM unnest($2::bigint[], $3::text[], $4::text[]) AS x(i, t, d)`,
        [
          b.tenant,
          rows.map((t) => t.entryIndex),
          rows.map((t) => TRANSFER_ENTRY_TYPES[t.kind]),
          rows.map(entryData),
          rows[0].createdAt,
        ],
      );
    }),
  );
  return { mode, ledger, baseline };
}

function entriesFor(count: number): NewEntry[] {
  return Array.from({ length: count }, () => ({
    type: 'transfer.created',
    payload: {
      amount: String(randomInt(1, 1_000_000)),
      code: null,
      creditAccountId: randomUUID(),
      currency: 'EUR',
      debitAccountId: randomUUID(),
      id: randomUUID(),
      memo: '',
      pendingId: null,
    },
  }));
}

async function timeEach(name: string, n: number, once: () => Promise<unknown>) {
  // Untimed first: a serving ledger has its upper subtree pages cached.
  for (let i = 0; i < Math.min(200, Math.ceil(n / 10)); i++) await once();
  const latencies: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await once();
    latencies.push(performance.now() - t0);
  }
  latencies.sort((a, b) => a - b);
  return {
    name,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1],
    mean: latencies.reduce((s, x) => s + x, 0) / n,
  };
}

export async function ledgerBench(input: LedgerBenchInput): Promise<LedgerBenchResult> {
  await migrateAll(input.databaseUrl, [ledgerSubgraph]);
  const ds: DataSource = createSubgraphDataSource({
    url: input.databaseUrl,
    schema: 'ledger',
    entities: ledgerSubgraph.entities,
    migrations: ledgerSubgraph.migrations,
    poolSize: input.poolSize,
  });
  await ds.initialize();
  const bus = new PostgresEventBus(input.databaseUrl);
  const pubsub = createPubSub(undefined);
  // The ledger's services use the DataSource, config and keys; the relay is never started (no events are written).
  const deps: SubgraphDeps = {
    name: 'ledger',
    ds,
    config: input.config,
    keys: input.keys,
    outbox: new OutboxRelay(ds, 'ledger', bus),
    bus,
    pubsub,
  };
  try {
    await ds.query(`DROP SCHEMA IF EXISTS bench_ledger CASCADE`);
    await ds.query(`CREATE SCHEMA bench_ledger`);
    // Same columns, defaults and indexes (primary keys included); no triggers, checks, foreign keys or RLS.
    await ds.query(`CREATE TABLE bench_ledger.transfers (LIKE ledger.transfers INCLUDING DEFAULTS INCLUDING INDEXES)`);
    await ds.query(`CREATE TABLE bench_ledger.entries (LIKE ledger.entries INCLUDING DEFAULTS INCLUDING INDEXES)`);

    // 1. Transfers/s.
    const tenants = [];
    for (let i = 0; i < input.callers; i++) {
      const id = randomUUID();
      tenants.push({ id, accounts: await openAccounts(deps, id) });
    }
    const transfers = [
      await transferThroughput(deps, input, `${input.callers} callers, one tenant`, tenants.slice(0, 1)),
      await transferThroughput(deps, input, `${input.callers} callers, a tenant each`, tenants),
    ];

    // 2. One big log, then proofs.
    const log = new LedgerLog(deps);
    const logId = randomUUID();
    const built = performance.now();
    for (let size = 0; size < input.entries; size += input.appendBatch) {
      const entries = entriesFor(Math.min(input.appendBatch, input.entries - size));
      await withTenant(ds, tenantContext(logId), (em) => log.append(em, logId, entries));
    }
    const build = { seconds: (performance.now() - built) / 1000, size: input.entries };
    // A log in steady state has been vacuumed (a bulk load leaves autovacuum work that would run during the timing).
    await ds.query(`VACUUM (ANALYZE) ledger.entries`);
    await ds.query(`VACUUM (ANALYZE) ledger.nodes`);
    const size = input.entries;
    const read = <T>(work: (em: EntityManager) => Promise<T>) => withTenant(ds, tenantContext(logId), (em) => work(em));
    const proofs = [
      await timeEach('inclusionProof (random index, random tree size)', input.proofs, () => {
        const index = randomInt(size);
        const treeSize = randomInt(index + 1, size + 1);
        return read((em) => log.inclusionProof(em, logId, index, treeSize));
      }),
      await timeEach('inclusionProof (random index, current size)', input.proofs, () =>
        read((em) => log.inclusionProof(em, logId, randomInt(size), size)),
      ),
      await timeEach('consistencyProof (random sizes)', input.proofs, () => {
        const to = randomInt(1, size + 1);
        const from = randomInt(1, to + 1);
        return read((em) => log.consistencyProof(em, logId, from, to));
      }),
      await timeEach('consistencyProof (random size → current)', input.proofs, () =>
        read((em) => log.consistencyProof(em, logId, randomInt(1, size + 1), size)),
      ),
    ];

    // 3. Verification of the whole log.
    const verifier = new LogVerifier(log);
    const t0 = performance.now();
    const v = await read((em) => verifier.verify(em, logId));
    const verify = {
      seconds: (performance.now() - t0) / 1000,
      entries: v.checkedTo - v.checkedFrom,
      ok: v.ok,
      problem: v.problem,
    };
    return { transfers, build, proofs, verify };
  } finally {
    await ds.query(`DROP SCHEMA IF EXISTS bench_ledger CASCADE`).catch(() => undefined);
    await ds.destroy();
    await bus.close();
    await pubsub.close();
  }
}

export function formatLedger(r: LedgerBenchResult, input: LedgerBenchInput, database: string): string {
  const rate = (n: number) => n.toFixed(0).padStart(7);
  const ms = (n: number) => n.toFixed(2).padStart(7);
  let out = `\nLedger: createTransfers of ${input.batch}, ${input.transfers} transfers per row, ${database}\n`;
  for (const t of r.transfers) {
    out += `  ${t.mode}\n`;
    for (const x of [t.baseline, t.ledger])
      out += `    ${x.name.padEnd(40)} ${rate(x.perSecond)} transfers/s  batch p50 ${ms(x.p50)} ms  p99 ${ms(x.p99)} ms\n`;
    out += `    ratio ×${(t.ledger.perSecond / t.baseline.perSecond).toFixed(2)} of baseline (goal ≥ 0.33)\n`;
  }
  out +=
    `\nLedger log of ${r.build.size} entries: built in ${r.build.seconds.toFixed(1)} s ` +
    `(${rate(r.build.size / r.build.seconds).trim()} entries/s, ${input.appendBatch} per append)\n`;
  for (const p of r.proofs)
    out += `  ${p.name.padEnd(50)} p50 ${ms(p.p50)} ms  p99 ${ms(p.p99)} ms  max ${ms(p.max)} ms  (${input.proofs}; goal p99 ≤ 5 ms)\n`;
  out +=
    `  LogVerifier over the whole log                     ${rate(r.verify.entries / r.verify.seconds)} entries/s ` +
    `(${r.verify.entries} in ${r.verify.seconds.toFixed(1)} s, ${r.verify.ok ? 'ok' : `NOT OK: ${r.verify.problem}`})\n`;
  return out;
}
