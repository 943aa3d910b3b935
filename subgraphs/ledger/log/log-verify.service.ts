import { verify as verifySignature } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { canonicalJson } from './canonical-json';
import { LedgerLog, PLATFORM_LOG } from './log.service';
import { TreeBuilder, leafHash, subtreeKey, subtreesOf } from './merkle';
import { checkpointBody, noteKeyId } from './signed-note';

export interface Verification {
  ok: boolean;
  treeSize: number;
  checkedFrom: number;
  checkedTo: number;
  firstBadIndex: number | null;
  problem: string | null;
}

class Damage extends Error {
  constructor(
    readonly index: number,
    problem: string,
  ) {
    super(problem);
  }
}

const CHUNK = 2000;

/** The canonical form of parsed entry data, or null when it has none (an unpaired surrogate, say). */
function canonicalForm(value: unknown): string | null {
  try {
    return canonicalJson(value);
  } catch {
    return null;
  }
}

/** A `checkpoint.witnessed` entry of the platform log about `logId`, or null (another log's, or unreadable). */
function witnessOf(data: string, logId: string): { size: number; rootHash: string } | null {
  try {
    const { payload } = JSON.parse(data) as { payload?: { log?: unknown; treeSize?: unknown; rootHash?: unknown } };
    if (payload?.log !== logId || !Number.isSafeInteger(payload.treeSize) || typeof payload.rootHash !== 'string')
      return null;
    return { size: payload.treeSize as number, rootHash: payload.rootHash };
  } catch {
    return null;
  }
}

/** A stored checkpoint and what the platform log witnessed of the log, read before the log's size. */
interface SignedRecords {
  checkpoints: { size: string; root: Buffer; note: string }[];
  witnessed: { data: string }[];
}

/** A row of the balance check: an account whose balances differ from its transfers, or an unbalanced currency. */
interface BalanceProblem {
  kind: 'account' | 'currency';
  code: string | null;
  currency: string;
  entry_idx: string;
  differences: string;
}

/**
 * The balance columns against what the transfers give, in one statement (one snapshot): posted = Σ single and
 * post amounts on that side; pending = Σ pending amounts on that side not yet resolved (no row names them as
 * pending_id). Then, per currency, Σ debits = Σ credits over the recomputed balances. Smallest entry index first.
 */
const BALANCE_CHECK_SQL = `
  WITH t AS (
    SELECT t.debit_account_id, t.credit_account_id,
           CASE WHEN t.kind IN ('single', 'post') THEN t.amount ELSE 0 END AS posted,
           CASE WHEN t.kind = 'pending' AND NOT EXISTS (
                  SELECT 1 FROM ledger.transfers r WHERE r.tenant_id = t.tenant_id AND r.pending_id = t.id)
                THEN t.amount ELSE 0 END AS pending
      FROM ledger.transfers t WHERE t.tenant_id = $1),
  sides AS (
    SELECT debit_account_id AS id, posted AS dpo, pending AS dp, 0::numeric AS cpo, 0::numeric AS cp FROM t
    UNION ALL
    SELECT credit_account_id, 0, 0, posted, pending FROM t),
  sums AS (SELECT id, sum(dpo) AS dpo, sum(dp) AS dp, sum(cpo) AS cpo, sum(cp) AS cp FROM sides GROUP BY id),
  b AS (
    SELECT a.code, a.currency, a.entry_idx,
           a.debits_posted, a.debits_pending, a.credits_posted, a.credits_pending,
           coalesce(s.dpo, 0) AS r_dpo, coalesce(s.dp, 0) AS r_dp, coalesce(s.cpo, 0) AS r_cpo, coalesce(s.cp, 0) AS r_cp
      FROM ledger.accounts a LEFT JOIN sums s ON s.id = a.id
     WHERE a.tenant_id = $1)
  SELECT 'account' AS kind, code, currency, entry_idx, concat_ws(', ',
           CASE WHEN debits_posted <> r_dpo THEN format('debits posted %s, transfers give %s', debits_posted, r_dpo) END,
           CASE WHEN debits_pending <> r_dp THEN format('debits pending %s, transfers give %s', debits_pending, r_dp) END,
           CASE WHEN credits_posted <> r_cpo THEN format('credits posted %s, transfers give %s', credits_posted, r_cpo) END,
           CASE WHEN credits_pending <> r_cp THEN format('credits pending %s, transfers give %s', credits_pending, r_cp) END
         ) AS differences
    FROM b
   WHERE (debits_posted, debits_pending, credits_posted, credits_pending) <> (r_dpo, r_dp, r_cpo, r_cp)
  UNION ALL
  SELECT 'currency', NULL, currency, min(entry_idx), concat_ws(', ',
           CASE WHEN sum(r_dpo) <> sum(r_cpo) THEN format('debits posted %s, credits posted %s', sum(r_dpo), sum(r_cpo)) END,
           CASE WHEN sum(r_dp) <> sum(r_cp) THEN format('debits pending %s, credits pending %s', sum(r_dp), sum(r_cp)) END)
    FROM b GROUP BY currency
  HAVING sum(r_dpo) <> sum(r_cpo) OR sum(r_dp) <> sum(r_cp)
   ORDER BY kind, entry_idx
   LIMIT 1`;

/**
 * Every transfer and account row against the log entry it names (entry_idx), and every transfer or account entry
 * against its row: same type for the row's kind, and the entry's payload holding the row's ids, accounts, amount
 * and currency. A row the log does not record (or records otherwise) comes first, by index.
 */
const ROWS_CHECK_SQL = `
  WITH r AS (
    SELECT t.entry_idx, 'transfer ' || t.id AS what,
           CASE t.kind WHEN 'single' THEN 'transfer.created' WHEN 'pending' THEN 'transfer.pending'
                       WHEN 'post' THEN 'transfer.posted' WHEN 'void' THEN 'transfer.voided'
                       ELSE 'transfer.expired' END AS type,
           jsonb_build_object('id', t.id::text, 'debitAccountId', t.debit_account_id::text,
                              'creditAccountId', t.credit_account_id::text, 'amount', t.amount::text,
                              'currency', t.currency, 'pendingId', t.pending_id::text) AS fields
      FROM ledger.transfers t WHERE t.tenant_id = $1
    UNION ALL
    SELECT a.entry_idx, 'account ' || a.code || '/' || a.currency, 'account.created',
           jsonb_build_object('id', a.id::text, 'code', a.code, 'currency', a.currency, 'ownerId', a.owner_id)
      FROM ledger.accounts a WHERE a.tenant_id = $1),
  e AS (
    SELECT idx, type, data::jsonb -> 'payload' AS payload FROM ledger.entries
     WHERE tenant_id = $1 AND (type LIKE 'transfer.%' OR type = 'account.created'))
  SELECT coalesce(r.entry_idx, e.idx) AS idx, r.what, e.type AS entry_type
    FROM r FULL JOIN e ON e.idx = r.entry_idx
   WHERE r.entry_idx IS NULL OR e.idx IS NULL OR e.type <> r.type OR NOT (e.payload @> r.fields)
   ORDER BY 1
   LIMIT 1`;

/**
 * Recomputes a range of a log from its stored rows: every entry present, in place and canonical, every stored
 * subtree hash equal to the recomputed one, every stored checkpoint correctly signed and equal to the recomputed
 * root, and (for a tenant log) every checkpoint the platform log witnessed still matching, and every account's
 * balances equal to what its transfers give. Reports the first bad index. Altering, removing, reordering or
 * truncating rows, even with hashes recomputed, is caught while a signed checkpoint or a witness of the old state
 * survives; a forger who also removes every one of those is caught by a client holding an older checkpoint.
 */
export class LogVerifier {
  private readonly keyId: Buffer;

  constructor(private readonly log: LedgerLog) {
    this.keyId = noteKeyId(log.key);
  }

  async verify(em: EntityManager, logId: string, fromIndex?: number | null, toIndex?: number | null) {
    // Signed records first, the size after: sizes only grow, so a checkpoint committed in between is still
    // within the size read (read the other way round it would look like entries removed).
    const records = await this.signedRecords(em, logId);
    const treeSize = await this.log.size(em, logId);
    const from = fromIndex ?? 0;
    const to = toIndex ?? treeSize;
    const result: Verification = {
      ok: true,
      treeSize,
      checkedFrom: from,
      checkedTo: to,
      firstBadIndex: null,
      problem: null,
    };
    if (!(Number.isSafeInteger(from) && Number.isSafeInteger(to) && from >= 0 && from <= to && to <= treeSize))
      return { ...result, ok: false, problem: `The range must lie within 0…${treeSize}` };
    try {
      const roots = this.expectedRoots(logId, records, treeSize);
      await this.scan(em, logId, from, to, roots);
      if (logId !== PLATFORM_LOG) {
        await this.checkRows(em, logId);
        await this.checkBalances(em, logId);
      }
      return result;
    } catch (err) {
      if (!(err instanceof Damage)) throw err;
      return { ...result, ok: false, firstBadIndex: err.index, problem: err.message };
    }
  }

  private async signedRecords(em: EntityManager, logId: string): Promise<SignedRecords> {
    const checkpoints: SignedRecords['checkpoints'] = await em.query(
      `SELECT size, root, note FROM ledger.checkpoints WHERE tenant_id = $1 ORDER BY size`,
      [logId],
    );
    if (logId === PLATFORM_LOG) return { checkpoints, witnessed: [] };
    const witnessed: SignedRecords['witnessed'] = await this.log.asLog(em, PLATFORM_LOG, () =>
      em.query(
        `SELECT data FROM ledger.entries WHERE tenant_id = $1 AND type = 'checkpoint.witnessed' AND data LIKE $2
          ORDER BY idx`,
        [PLATFORM_LOG, `%"log":"${logId}"%`],
      ),
    );
    return { checkpoints, witnessed };
  }

  /** Roots the log must have at given sizes: its signed checkpoints, and what the platform log witnessed. */
  private expectedRoots(logId: string, records: SignedRecords, treeSize: number): Map<number, string> {
    const roots = new Map<number, string>();
    let previous = 0;
    for (const row of records.checkpoints) {
      const size = Number(row.size);
      const root = row.root.toString('base64');
      if (size > treeSize)
        throw new Damage(
          treeSize,
          `A checkpoint covers ${size} entries but the log holds ${treeSize}: entries removed`,
        );
      if (!this.signedBy(row.note, this.log.origin(logId), size, row.root))
        throw new Damage(previous, `The checkpoint at size ${size} is not signed by the ledger key`);
      roots.set(size, root);
      previous = size;
    }
    const witnessed = records.witnessed.flatMap(({ data }) => {
      const w = witnessOf(data, logId);
      return w ? [w] : [];
    });
    // A mismatch is reported at the start of its block: the largest size below it that something signed.
    const known = [...roots.keys(), ...witnessed.map((w) => w.size)];
    const blockStart = (size: number) => known.filter((s) => s < size).reduce((a, b) => Math.max(a, b), 0);
    for (const { size, rootHash } of witnessed) {
      if (size > treeSize)
        throw new Damage(treeSize, `The platform log witnessed ${size} entries but the log holds ${treeSize}`);
      const stored = roots.get(size);
      if (stored !== undefined && stored !== rootHash)
        throw new Damage(
          blockStart(size),
          `The checkpoint at size ${size} differs from the one the platform log witnessed`,
        );
      roots.set(size, rootHash);
    }
    return roots;
  }

  /**
   * Whether `note` is the checkpoint body followed by exactly one signature line of the ledger key, its
   * signature strict base64 of 68 bytes: the key id, then an Ed25519 signature of the body. Lines of other keys
   * may follow (C2SP signed-note); anything else is refused.
   */
  private signedBy(note: string, origin: string, size: number, root: Buffer): boolean {
    const body = checkpointBody(origin, size, root);
    if (!note.startsWith(`${body}\n`) || !note.endsWith('\n')) return false;
    const lines = note.slice(body.length + 1, -1).split('\n');
    const mine: string[] = [];
    for (const line of lines) {
      const space = line.lastIndexOf(' ');
      if (!line.startsWith('\u2014 ') || space <= 2 || space === line.length - 1) return false;
      if (line.slice(2, space) === this.log.key.name) mine.push(line.slice(space + 1));
    }
    if (mine.length !== 1) return false;
    const signature = Buffer.from(mine[0], 'base64');
    return (
      signature.toString('base64') === mine[0] &&
      signature.length === 68 &&
      signature.subarray(0, 4).equals(this.keyId) &&
      verifySignature(null, Buffer.from(body, 'utf8'), this.log.key.publicKey, signature.subarray(4))
    );
  }

  /** Every transfer and account row recorded by its entry, every such entry by its row. */
  private async checkRows(em: EntityManager, logId: string): Promise<void> {
    const [bad]: { idx: string; what: string | null; entry_type: string | null }[] = await em.query(ROWS_CHECK_SQL, [
      logId,
    ]);
    if (!bad) return;
    const index = Number(bad.idx);
    if (!bad.what) throw new Damage(index, `Entry ${index} (${bad.entry_type}) has no transfer or account row`);
    if (!bad.entry_type) throw new Damage(index, `Ledger ${bad.what} names entry ${index}, which does not record it`);
    throw new Damage(index, `Ledger ${bad.what} differs from entry ${index} that records it`);
  }

  /** Every account's balances recomputed from the tenant's transfers; each currency's debits equal its credits. */
  private async checkBalances(em: EntityManager, logId: string): Promise<void> {
    const [problem]: BalanceProblem[] = await em.query(BALANCE_CHECK_SQL, [logId]);
    if (!problem) return;
    const index = Number(problem.entry_idx);
    if (problem.kind === 'account')
      throw new Damage(
        index,
        `Ledger account ${problem.code}/${problem.currency} balances differ from its transfers (${problem.differences})`,
      );
    throw new Damage(
      index,
      `In ${problem.currency}, the balances recomputed from the transfers do not balance (${problem.differences})`,
    );
  }

  private async scan(em: EntityManager, logId: string, from: number, to: number, roots: Map<number, string>) {
    const edgeTrees = subtreesOf([0, from]);
    const edge = await this.log.readSubtrees(em, logId, edgeTrees).catch(() => {
      throw new Damage(0, `Stored hashes of the entries before ${from} are missing`);
    });
    const tree = new TreeBuilder(
      from,
      edgeTrees.map((s) => edge.get(subtreeKey(s))!),
    );
    let blockStart = [...roots.keys()].filter((s) => s <= from).reduce((a, b) => Math.max(a, b), 0);
    let expected = from;
    while (expected < to) {
      const rows: { idx: string; type: string; data: string; source_event_id: string | null }[] = await em.query(
        `SELECT idx, type, data, source_event_id FROM ledger.entries
          WHERE tenant_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx LIMIT $4`,
        [logId, expected, to, CHUNK],
      );
      if (rows.length === 0) throw new Damage(expected, `Entries from ${expected} on are missing`);
      const computed: { level: number; idx: number; hash: Buffer }[] = [];
      let wrongRoot: Damage | null = null;
      for (const row of rows) {
        const index = Number(row.idx);
        if (index !== expected) throw new Damage(expected, `Entry ${expected} is missing`);
        this.checkEntry(index, row);
        computed.push(...tree.push(leafHash(Buffer.from(row.data, 'utf8'))));
        expected++;
        const root = roots.get(expected);
        if (root === undefined || wrongRoot) continue;
        if (tree.root().toString('base64') !== root)
          wrongRoot = new Damage(
            blockStart,
            `Entries ${blockStart}…${expected - 1} do not hash to the signed checkpoint at size ${expected}`,
          );
        else blockStart = expected;
      }
      // A stored hash that differs names the exact entry; a wrong root only the block it is in.
      await this.compareStored(em, logId, computed);
      if (wrongRoot) throw wrongRoot;
    }
  }

  private checkEntry(index: number, row: { type: string; data: string; source_event_id: string | null }): void {
    let parsed: { index?: unknown; type?: unknown; sourceEventId?: unknown };
    try {
      parsed = JSON.parse(row.data);
    } catch {
      throw new Damage(index, `Entry ${index} is not JSON`);
    }
    if (canonicalForm(parsed) !== row.data) throw new Damage(index, `Entry ${index} is not in canonical form`);
    if (parsed.index !== index) throw new Damage(index, `Entry ${index} holds the data of entry ${parsed.index}`);
    if (parsed.type !== row.type || (parsed.sourceEventId ?? null) !== row.source_event_id)
      throw new Damage(index, `Entry ${index}'s columns differ from its data`);
  }

  /** The stored subtree hashes must equal the recomputed ones (proofs are served from them). */
  private async compareStored(
    em: EntityManager,
    logId: string,
    computed: { level: number; idx: number; hash: Buffer }[],
  ) {
    const rows: { level: number; idx: string; hash: Buffer }[] = await em.query(
      `SELECT n.level, n.idx, n.hash FROM ledger.nodes n
         JOIN unnest($2::smallint[], $3::bigint[]) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx
        WHERE n.tenant_id = $1`,
      [logId, computed.map((c) => c.level), computed.map((c) => c.idx)],
    );
    const stored = new Map(rows.map((r) => [`${r.level}:${r.idx}`, r.hash]));
    for (const c of computed) {
      const hash = stored.get(subtreeKey(c));
      if (!hash || !hash.equals(c.hash)) {
        const first = c.idx * 2 ** c.level;
        throw new Damage(first, `The stored hash of entries ${first}…${first + 2 ** c.level - 1} is wrong or missing`);
      }
    }
  }
}
