import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { leafHash, nodeHash } from '../tools/ledger-verify/verify';
import type { User } from './support/client';
import { sqlOn } from './support/db';
import { appendTransfers } from './support/ledger';
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
    const res = await user.raw<any>({
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
  const res = await user.raw<any>({ query: `{ verifyLedger { ok firstBadIndex problem treeSize } }` });
  return res.data!.verifyLedger as { ok: boolean; firstBadIndex: number | null; problem: string | null };
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
      [`UPDATE ledger.heads SET size = $2 WHERE tenant_id = $1`, [user.tenantId, keep]],
      ...(await rehash(user.tenantId)),
    ]);
    const result = await verification(user);
    expect(result).toMatchObject({ ok: false, firstBadIndex: keep });
    expect(result.problem).toMatch(/witnessed/);
    const client = await verifyCli(user, ['--state', state]);
    expect(client.status).toBe(1);
  }, 60_000);
});
