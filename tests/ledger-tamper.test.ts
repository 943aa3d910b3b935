import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { leafHash, nodeHash } from '../tools/ledger-verify/verify';
import type { User } from './support/client';
import { sqlOn } from './support/db';
import { appendTransfers, ledgerData } from './support/ledger';
import { startTestPlatform, type TestPlatform } from './support/platform';

/**
 * History that cannot change: the runtime role may only read and append, triggers refuse every change, and what a
 * superuser does anyway (edit, delete, reorder, truncate, even with every hash recomputed) is caught by
 * verifyLedger and by a client holding an older checkpoint (npm run ledger:verify with --state).
 */
let t: TestPlatform;
const root = join(__dirname, '..');

beforeAll(async () => {
  t = await startTestPlatform(undefined, {
    LEDGER_CHECKPOINT_ENTRIES: '16',
    LEDGER_CHECKPOINT_SECONDS: '1',
    JOB_POLL_MS: '100',
  });
}, 60_000);
afterAll(async () => {
  await t?.stop();
});

/** A tenant with 40 transfers in its log, and a client's saved state (the latest checkpoint it verified). */
async function books(name: string): Promise<{ user: User; state: string; size: number }> {
  const user = await t.signUp(name);
  await appendTransfers(user, 40);
  await waitForCheckpointOf(user);
  const state = join(mkdtempSync(join(tmpdir(), 'ledger-state-')), 'state.json');
  const first = await verifyCli(user, ['--state', state]);
  if (first.status !== 0) throw new Error(`ledger:verify exited ${first.status}: ${first.output}`);
  const size = JSON.parse(readFileSync(state, 'utf8')).treeSize as number;
  return { user, state, size };
}

async function waitForCheckpointOf(user: User): Promise<void> {
  // The last entries are covered by a checkpoint LEDGER_CHECKPOINT_SECONDS after they were written.
  for (let i = 0; i < 50; i++) {
    const res = await user.raw<{ ledgerCheckpoint: { treeSize: number } | null; verifyLedger: { treeSize: number } }>({
      query: `{ ledgerCheckpoint { treeSize } verifyLedger(toIndex: 0) { treeSize } }`,
    });
    if (res.data?.ledgerCheckpoint?.treeSize === res.data?.verifyLedger.treeSize) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('no checkpoint covers the log');
}

/** The client tool as a user runs it (a child process: the platform under test lives in this one). */
function verifyCli(user: User, args: string[]): Promise<{ status: number | null; output: string }> {
  const argv = ['--import', 'tsx', 'tools/ledger-verify/cli.ts', '--url', t.gatewayUrl.replace(/\/graphql$/, '')];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...argv, '--token', user.token, ...args],
      { cwd: root, encoding: 'utf8', timeout: 60_000 },
      (err, stdout, stderr) => resolve({ status: err ? (err.code as number | null) : 0, output: `${stdout}${stderr}` }),
    );
  });
}

async function verification(user: User) {
  type Verification = { ok: boolean; firstBadIndex: number | null; problem: string | null };
  const res = await user.raw<{ verifyLedger: Verification }>({
    query: `{ verifyLedger { ok firstBadIndex problem treeSize } }`,
  });
  return res.data!.verifyLedger;
}

/** As a superuser who switched the history triggers off for this session. */
async function asSuperuser(statements: [string, unknown[]][]): Promise<void> {
  const db = new Client({ connectionString: t.databaseUrl });
  await db.connect();
  try {
    await db.query('BEGIN');
    await db.query(`SET LOCAL session_replication_role = replica`);
    for (const [sql, values] of statements) await db.query(sql, values);
    await db.query('COMMIT');
  } finally {
    await db.end();
  }
}

async function entryData(tenantId: string, index: number): Promise<string> {
  const [row] = await sqlOn(t.databaseUrl, `SELECT data FROM ledger.entries WHERE tenant_id = $1 AND idx = $2`, [
    tenantId,
    index,
  ]);
  return row.data as string;
}

/** Every complete subtree hash recomputed from the (tampered) entries, as a careful forger would. */
async function rehash(tenantId: string): Promise<[string, unknown[]][]> {
  const rows = await sqlOn(t.databaseUrl, `SELECT data FROM ledger.entries WHERE tenant_id = $1 ORDER BY idx`, [
    tenantId,
  ]);
  let level = rows.map((r) => leafHash(r.data as string));
  const out: [string, unknown[]][] = [[`DELETE FROM ledger.nodes WHERE tenant_id = $1`, [tenantId]]];
  for (let l = 0; level.length; l++) {
    level.forEach((hash, idx) =>
      out.push([
        `INSERT INTO ledger.nodes (tenant_id, level, idx, hash) VALUES ($1, $2, $3, $4)`,
        [tenantId, l, idx, hash],
      ]),
    );
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i], level[i + 1]));
    level = next;
  }
  return out;
}

describe('what the database refuses', () => {
  it('lets the runtime role only read and append history, and refuses every change even to the owner', async () => {
    const { user } = await books('Refusals');
    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    const attempt = async (sql: string, asApp: boolean) => {
      await db.query('BEGIN');
      try {
        if (asApp)
          await db.query(`SELECT set_config('role', 'nexus_app', true), set_config('app.tenant_id', $1, true)`, [
            user.tenantId,
          ]);
        await db.query(sql.replaceAll('$T', `'${user.tenantId}'`));
        return 'allowed';
      } catch (err) {
        return (err as Error).message;
      } finally {
        await db.query('ROLLBACK');
      }
    };
    try {
      for (const table of ['entries', 'nodes', 'checkpoints', 'transfers']) {
        expect(await attempt(`UPDATE ledger.${table} SET tenant_id = tenant_id WHERE tenant_id = $T`, true)).toMatch(
          /permission denied/,
        );
        expect(await attempt(`DELETE FROM ledger.${table} WHERE tenant_id = $T`, true)).toMatch(/permission denied/);
        expect(await attempt(`TRUNCATE ledger.${table} CASCADE`, true)).toMatch(/permission denied/);
        expect(await attempt(`UPDATE ledger.${table} SET tenant_id = tenant_id WHERE tenant_id = $T`, false)).toMatch(
          /append-only/,
        );
        expect(await attempt(`DELETE FROM ledger.${table} WHERE tenant_id = $T`, false)).toMatch(/append-only/);
        expect(await attempt(`TRUNCATE ledger.${table} CASCADE`, false)).toMatch(/append-only|never removed/);
      }
      expect(await attempt(`UPDATE ledger.accounts SET code = 'renamed' WHERE tenant_id = $T`, false)).toMatch(
        /never removed or renamed/,
      );
      expect(await attempt(`SELECT ledger.purge_tenant($T)`, true)).toMatch(/permission denied/);
      // No setting opens the door: only the purge role (owner of ledger.purge_tenant, no login) may delete.
      expect(
        await attempt(
          `SELECT set_config('ledger.purging', $T, true), set_config('app.purging', $T, true); DELETE FROM ledger.entries WHERE tenant_id = $T`,
          false,
        ),
      ).toMatch(/append-only/);
      // The runtime role cannot hide the tail, skip an index, sign, or write the platform log.
      expect(await attempt(`UPDATE ledger.heads SET size = size - 2 WHERE tenant_id = $T`, true)).toMatch(
        /must grow with its entries/,
      );
      expect(
        await attempt(
          `INSERT INTO ledger.entries (tenant_id, idx, type, data, created_at) VALUES ($T, 100000, 'x', '{}', now())`,
          true,
        ),
      ).toMatch(/would leave a gap/);
      expect(
        await attempt(
          `INSERT INTO ledger.checkpoints (tenant_id, size, root, note) VALUES ($T, 1, sha256(''), 'x')`,
          true,
        ),
      ).toMatch(/permission denied/);
      expect(
        await attempt(
          `SELECT set_config('app.tenant_id', '00000000-0000-0000-0000-000000000000', true);
           INSERT INTO ledger.entries (tenant_id, idx, type, data, created_at)
           SELECT '00000000-0000-0000-0000-000000000000', size, 'log.purged', '{}', now() FROM ledger.heads
            WHERE tenant_id = '00000000-0000-0000-0000-000000000000'`,
          true,
        ),
      ).toMatch(/written by the platform only/);
    } finally {
      await db.end();
    }
    expect((await verification(user)).ok).toBe(true);
  });
});

describe('what a superuser does anyway is caught', () => {
  it('an edited payload: verifyLedger names the entry, the client refuses its proof', async () => {
    const { user, state } = await books('Edited');
    const data = await entryData(user.tenantId, 20);
    await asSuperuser([
      [
        `UPDATE ledger.entries SET data = $3 WHERE tenant_id = $1 AND idx = $2`,
        [user.tenantId, 20, data.replace(/"amount":"(\d+)"/, '"amount":"999$1"')],
      ],
    ]);
    expect(await verification(user)).toMatchObject({ ok: false, firstBadIndex: 20 });
    const client = await verifyCli(user, ['--state', state, '--entries', '20']);
    expect(client.status).toBe(1);
  }, 60_000);

  it('an edited payload with every hash recomputed: the signed checkpoints and the older state disagree', async () => {
    const { user, state } = await books('Forged');
    const data = await entryData(user.tenantId, 20);
    const forged = data.replace(/"amount":"(\d+)"/, '"amount":"999$1"');
    await asSuperuser([
      [`UPDATE ledger.entries SET data = $3 WHERE tenant_id = $1 AND idx = $2`, [user.tenantId, 20, forged]],
    ]);
    await asSuperuser(await rehash(user.tenantId));
    const result = await verification(user);
    expect(result.ok).toBe(false);
    expect(result.firstBadIndex).toBeLessThanOrEqual(20);
    expect(result.problem).toMatch(/signed checkpoint/);
    expect((await verifyCli(user, ['--state', state])).status).toBe(1);
  }, 60_000);

  it('a deleted entry', async () => {
    const { user } = await books('Deleted');
    await asSuperuser([[`DELETE FROM ledger.entries WHERE tenant_id = $1 AND idx = $2`, [user.tenantId, 17]]]);
    expect(await verification(user)).toMatchObject({ ok: false, firstBadIndex: 17 });
  }, 60_000);

  it('two entries swapped', async () => {
    const { user } = await books('Reordered');
    const [a, b] = [await entryData(user.tenantId, 11), await entryData(user.tenantId, 12)];
    await asSuperuser([
      [`UPDATE ledger.entries SET data = $3 WHERE tenant_id = $1 AND idx = $2`, [user.tenantId, 11, b]],
      [`UPDATE ledger.entries SET data = $3 WHERE tenant_id = $1 AND idx = $2`, [user.tenantId, 12, a]],
    ]);
    expect(await verification(user)).toMatchObject({ ok: false, firstBadIndex: 11 });
  }, 60_000);

  it('a truncated tail, head and checkpoints included: the platform witness and the older state disagree', async () => {
    const { user, state, size } = await books('Truncated');
    const keep = size - 10;
    await asSuperuser([
      [`DELETE FROM ledger.entries WHERE tenant_id = $1 AND idx >= $2`, [user.tenantId, keep]],
      [`DELETE FROM ledger.checkpoints WHERE tenant_id = $1 AND size > $2`, [user.tenantId, keep]],
      [`DELETE FROM ledger.transfers WHERE tenant_id = $1 AND entry_idx >= $2`, [user.tenantId, keep]],
      [
        `UPDATE ledger.heads SET size = $2, checkpointed = least(checkpointed, $2) WHERE tenant_id = $1`,
        [user.tenantId, keep],
      ],
      ...(await rehash(user.tenantId)),
    ]);
    const result = await verification(user);
    expect(result).toMatchObject({ ok: false, firstBadIndex: keep });
    expect(result.problem).toMatch(/witnessed/);
    const client = await verifyCli(user, ['--state', state]);
    expect(client.status).toBe(1);
  }, 60_000);
});

/** The tenant's accounts, oldest first. */
async function accountsOf(
  tenantId: string,
): Promise<{ id: string; code: string; currency: string; entryIdx: number }[]> {
  const rows = await sqlOn(
    t.databaseUrl,
    `SELECT id, code, currency, entry_idx FROM ledger.accounts WHERE tenant_id = $1 ORDER BY entry_idx`,
    [tenantId],
  );
  return rows.map((r) => ({
    id: r.id as string,
    code: r.code as string,
    currency: r.currency as string,
    entryIdx: Number(r.entry_idx),
  }));
}

/** The platform log's witness entries of a tenant log (the rows, to be put back after a test removed them). */
async function witnessRows(tenantId: string): Promise<Record<string, unknown>[]> {
  return sqlOn(
    t.databaseUrl,
    `SELECT tenant_id, idx, type, data, source_event_id, created_at FROM ledger.entries
      WHERE tenant_id = $1 AND type = 'checkpoint.witnessed' AND data LIKE $2 ORDER BY idx`,
    [PLATFORM, `%"log":"${tenantId}"%`],
  );
}

const PLATFORM = '00000000-0000-0000-0000-000000000000';

describe('balances and signed records', () => {
  it('a balance the runtime role may move: verifyLedger recomputes every account from its transfers', async () => {
    const user = await t.signUp('Balances');
    const [cash, sales] = await appendTransfers(user, 5);
    // Pending transfers: one posted in part, one voided, one still pending.
    const pending = [randomUUID(), randomUUID(), randomUUID()];
    await ledgerData(user, `mutation($i: [CreateTransferInput!]!) { createTransfers(input: $i) { status } }`, {
      i: pending.map((id, n) => ({
        id,
        debitAccountId: cash,
        creditAccountId: sales,
        amount: String(100 * (n + 1)),
        pending: true,
      })),
    });
    await ledgerData(
      user,
      `mutation($p: PostTransferInput!, $v: VoidTransferInput!) { postTransfer(input: $p) { id } voidTransfer(input: $v) { id } }`,
      { p: { id: randomUUID(), pendingId: pending[0], amount: '60' }, v: { id: randomUUID(), pendingId: pending[1] } },
    );
    expect(await verification(user)).toMatchObject({ ok: true, problem: null });

    // The grants let the runtime role move a balance: nothing in the database stops this.
    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    try {
      await db.query('BEGIN');
      await db.query(`SELECT set_config('role', 'nexus_app', true), set_config('app.tenant_id', $1, true)`, [
        user.tenantId,
      ]);
      await db.query(
        `UPDATE ledger.accounts SET credits_posted = credits_posted + 1000000 WHERE tenant_id = $1 AND id = $2`,
        [user.tenantId, sales],
      );
      await db.query('COMMIT');
    } finally {
      await db.end();
    }
    const account = (await accountsOf(user.tenantId)).find((a) => a.id === sales)!;
    const result = await verification(user);
    expect(result).toMatchObject({ ok: false, firstBadIndex: account.entryIdx });
    expect(result.problem).toContain(`account ${account.code}/EUR balances differ from its transfers (credits posted`);

    // A superuser's edit of a pending balance is caught the same way (the older account first).
    const first = (await accountsOf(user.tenantId))[0];
    await asSuperuser([
      [
        `UPDATE ledger.accounts SET debits_pending = debits_pending + 1 WHERE tenant_id = $1 AND id = $2`,
        [user.tenantId, first.id],
      ],
    ]);
    const again = await verification(user);
    expect(again).toMatchObject({ ok: false, firstBadIndex: Math.min(first.entryIdx, account.entryIdx) });
    expect(again.problem).toContain(`account ${first.code}/EUR balances differ from its transfers (debits pending`);
  }, 60_000);

  it('a transfer row the log does not record, balances moved to match: caught by its entry', async () => {
    const user = await t.signUp('Phantom');
    const [cash, sales] = await appendTransfers(user, 3);
    const [real] = await sqlOn(
      t.databaseUrl,
      `SELECT entry_idx FROM ledger.transfers WHERE tenant_id = $1 ORDER BY entry_idx DESC LIMIT 1`,
      [user.tenantId],
    );
    expect(await verification(user)).toMatchObject({ ok: true });
    // The runtime role's grants allow both statements: a transfer naming an existing entry, and balances to match.
    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    try {
      await db.query('BEGIN');
      await db.query(`SELECT set_config('role', 'nexus_app', true), set_config('app.tenant_id', $1, true)`, [
        user.tenantId,
      ]);
      await db.query(
        `INSERT INTO ledger.transfers (tenant_id, id, kind, debit_account_id, credit_account_id, amount, currency,
                                       request_hash, entry_idx)
         VALUES ($1, $2, 'single', $3, $4, 1000000, 'EUR', 'x', $5)`,
        [user.tenantId, randomUUID(), sales, cash, real.entry_idx],
      );
      await db.query(
        `UPDATE ledger.accounts SET debits_posted = debits_posted + CASE WHEN id = $2 THEN 1000000 ELSE 0 END,
                credits_posted = credits_posted + CASE WHEN id = $3 THEN 1000000 ELSE 0 END
          WHERE tenant_id = $1 AND id IN ($2, $3)`,
        [user.tenantId, sales, cash],
      );
      await db.query('COMMIT');
    } finally {
      await db.end();
    }
    const result = await verification(user);
    expect(result).toMatchObject({ ok: false, firstBadIndex: Number(real.entry_idx) });
    expect(result.problem).toMatch(/^Ledger transfer .* (differs from|names) entry/);
  }, 60_000);

  it('a checkpoint note needs exactly one strict signature line with the ledger key id', async () => {
    const { user } = await books('Signatures');
    const [row] = await sqlOn(
      t.databaseUrl,
      `SELECT size, note FROM ledger.checkpoints WHERE tenant_id = $1 ORDER BY size DESC LIMIT 1`,
      [user.tenantId],
    );
    const note = row.note as string;
    const line = /\n(\u2014 \S+ )(\S+)\n$/.exec(note)!;
    const signature = Buffer.from(line[2], 'base64');
    const otherKeyId = Buffer.from(signature);
    otherKeyId[0] ^= 0xff;
    const variants = {
      'another key id': note.replace(line[2], otherKeyId.toString('base64')),
      'base64 with a stray character': note.replace(line[2], `${line[2]}!`),
      'the signature line twice': `${note}${line[1]}${line[2]}\n`,
      'no signature line': note.slice(0, note.length - line[0].length + 1),
    };
    const setNote = (text: string): [string, unknown[]] => [
      `UPDATE ledger.checkpoints SET note = $3 WHERE tenant_id = $1 AND size = $2`,
      [user.tenantId, row.size, text],
    ];
    try {
      for (const [name, text] of Object.entries(variants)) {
        await asSuperuser([setNote(text)]);
        const result = await verification(user);
        expect({ name, ok: result.ok, problem: result.problem }).toMatchObject({
          name,
          ok: false,
          problem: expect.stringMatching(/not signed by the ledger key/),
        });
      }
    } finally {
      await asSuperuser([setNote(note)]);
    }
    expect(await verification(user)).toMatchObject({ ok: true });
  }, 60_000);

  it('a witness that disagrees with a stored checkpoint: reported at the start of its block', async () => {
    const { user } = await books('Witness');
    await appendTransfers(user, 20);
    await waitForCheckpointOf(user);
    const sizes = (
      await sqlOn(t.databaseUrl, `SELECT size FROM ledger.checkpoints WHERE tenant_id = $1 ORDER BY size`, [
        user.tenantId,
      ])
    ).map((r) => Number(r.size));
    expect(sizes.length).toBeGreaterThanOrEqual(2);
    const last = sizes[sizes.length - 1];
    const witness = (await witnessRows(user.tenantId)).find((r) => (r.data as string).includes(`"treeSize":${last}}`))!;
    const data = witness.data as string;
    const setData = (text: string): [string, unknown[]] => [
      `UPDATE ledger.entries SET data = $3 WHERE tenant_id = $1 AND idx = $2`,
      [PLATFORM, witness.idx, text],
    ];
    try {
      await asSuperuser([
        setData(data.replace(/"rootHash":"[^"]+"/, `"rootHash":"${Buffer.alloc(32).toString('base64')}"`)),
      ]);
      const result = await verification(user);
      expect(result).toMatchObject({ ok: false, firstBadIndex: sizes[sizes.length - 2] });
      expect(result.problem).toMatch(/differs from the one the platform log witnessed/);
    } finally {
      await asSuperuser([setData(data)]);
    }
    expect(await verification(user)).toMatchObject({ ok: true });
  }, 60_000);

  it('a forged tree, rows and balances included, with every signed record of the old state removed: only the older client state catches it', async () => {
    const { user, state } = await books('Unsigned');
    const data = await entryData(user.tenantId, 20);
    await asSuperuser([
      [
        `UPDATE ledger.entries SET data = $3 WHERE tenant_id = $1 AND idx = $2`,
        [user.tenantId, 20, data.replace(/"amount":"(\d+)"/, '"amount":"999$1"')],
      ],
      // The transfer row and both balances to match the forged entry.
      [
        `WITH t AS (SELECT id, debit_account_id AS d, credit_account_id AS c, amount,
                           ('999' || amount::text)::numeric AS forged
                      FROM ledger.transfers WHERE tenant_id = $1 AND entry_idx = $2),
              n AS (UPDATE ledger.transfers x SET amount = t.forged FROM t WHERE x.tenant_id = $1 AND x.id = t.id
                    RETURNING t.forged - t.amount AS delta, t.d, t.c)
         UPDATE ledger.accounts a
            SET debits_posted = debits_posted + CASE WHEN a.id = n.d THEN n.delta ELSE 0 END,
                credits_posted = credits_posted + CASE WHEN a.id = n.c THEN n.delta ELSE 0 END
           FROM n WHERE a.tenant_id = $1 AND a.id IN (n.d, n.c)`,
        [user.tenantId, 20],
      ],
    ]);
    const witnesses = await witnessRows(user.tenantId);
    expect(witnesses.length).toBeGreaterThan(0);
    try {
      await asSuperuser([
        ...(await rehash(user.tenantId)),
        [`DELETE FROM ledger.checkpoints WHERE tenant_id = $1`, [user.tenantId]],
        [
          `DELETE FROM ledger.entries WHERE tenant_id = $1 AND type = 'checkpoint.witnessed' AND data LIKE $2`,
          [PLATFORM, `%"log":"${user.tenantId}"%`],
        ],
      ]);
      // Nothing signed of the old state is left on the server: verifyLedger has nothing to hold the tree against.
      expect(await verification(user)).toMatchObject({ ok: true });
      // The client's saved checkpoint is: the tree the server shows now does not extend it.
      const client = await verifyCli(user, ['--state', state]);
      expect(client.status).toBe(1);
    } finally {
      // The platform log is shared by every test here: its rows go back where they were.
      await asSuperuser(
        witnesses.map((w) => [
          `INSERT INTO ledger.entries (tenant_id, idx, type, data, source_event_id, created_at)
           VALUES ($1, $2, $3, $4, $5, $6)`,
          [w.tenant_id, w.idx, w.type, w.data, w.source_event_id, w.created_at],
        ]),
      );
    }
  }, 60_000);
});

describe('reading entries', () => {
  it('takes only endCursors as after, and a filter that cannot match gives no entries', async () => {
    const user = await t.signUp('Cursors');
    await appendTransfers(user, 3);
    const entries = (variables: Record<string, unknown>) =>
      user.raw<{
        ledgerEntries: {
          nodes: { index: number }[];
          pageInfo: { endCursor: string | null; hasNextPage: boolean };
        };
      }>({
        query: `query($after: String, $f: LedgerEntryFilter) { ledgerEntries(first: 2, after: $after, filter: $f) { nodes { index } pageInfo { endCursor hasNextPage } } }`,
        variables,
      });
    for (const after of ['1e1', ' 1', '-1', '0x1', '1.0', '', '99999999999999999999']) {
      const res = await entries({ after });
      expect({ after, code: res.errors?.[0].extensions?.code }).toEqual({ after, code: 'INVALID_PROOF_REQUEST' });
      expect(res.errors?.[0].message).toMatch(/endCursor/);
    }
    const next = await entries({ after: '1' });
    expect(next.data!.ledgerEntries).toEqual({
      nodes: [{ index: 2 }, { index: 3 }],
      pageInfo: { endCursor: '3', hasNextPage: true },
    });

    for (const f of [{ sourceEventId: 'not-a-uuid' }, { type: 'x'.repeat(200) }]) {
      const res = await entries({ f });
      expect(res.errors).toBeUndefined();
      expect(res.data!.ledgerEntries).toEqual({ nodes: [], pageInfo: { endCursor: null, hasNextPage: false } });
    }
    for (const f of [{ fromIndex: -1 }, { toIndex: -5 }, { fromIndex: 3, toIndex: 1 }]) {
      const res = await entries({ f });
      expect(res.errors?.[0].extensions?.code).toBe('INVALID_PROOF_REQUEST');
    }
    const ranged = await entries({ f: { fromIndex: 1, toIndex: 3 } });
    expect(ranged.data!.ledgerEntries.nodes).toEqual([{ index: 1 }, { index: 2 }]);
  }, 60_000);
});
