import type { EntityManager } from 'typeorm';
import { AppError } from '../../../kernel/errors';
import { scheduleJob } from '../../../kernel/jobs';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { isStorableText } from '../../../kernel/text';
import { LedgerErrorCode, ledgerError } from '../ledger.errors';
import { canonicalJson } from './canonical-json';
import {
  EMPTY_ROOT,
  appendSubtrees,
  consistencyRanges,
  inclusionRanges,
  leafHash,
  rangeHash,
  subtreeKey,
  subtreesFor,
  subtreesOf,
  type Hash,
  type Subtree,
} from './merkle';
import { signCheckpoint, type NoteKey } from './signed-note';

/** The platform's own log (witnessed checkpoints of every tenant log, tombstones of purged ones). */
export const PLATFORM_LOG = '00000000-0000-0000-0000-000000000000';

export interface NewEntry {
  type: string;
  payload: Record<string, unknown>;
  sourceEventId?: string | null;
}

export interface StoredEntry {
  index: number;
  type: string;
  payload: Record<string, unknown>;
  /** The exact bytes hashed into the leaf (RFC 8785 canonical JSON of index, payload, sourceEventId, time, type). */
  data: string;
  time: string;
  sourceEventId: string | null;
}

export interface Checkpoint {
  logId: string;
  origin: string;
  size: number;
  root: Hash;
  note: string;
  createdAt: Date;
}

const ENTRY_TYPE = /^[a-z][a-z0-9_.:-]{0,99}$/;
/** Entries (and their data) at most this long: a log is a record, not a blob store. */
const MAX_ENTRY_BYTES = 64 * 1024;

/** Per transaction: the heads this transaction holds and their sizes, the newest checkpoint size. */
interface Head {
  size: number;
  checkpointed: number;
  now: Date;
}
const held = new WeakMap<EntityManager, Map<string, Head>>();

/** A tree size a proof or a signed head may be asked for: a whole number from 1 (the log's size is checked with the read). */
function checkTreeSize(treeSize: number): void {
  if (!Number.isSafeInteger(treeSize) || treeSize < 1)
    throw ledgerError(LedgerErrorCode.INVALID_PROOF_REQUEST, `Tree size must be at least 1, got ${treeSize}`);
}

/** For work on a log that may have been purged meanwhile (events, jobs): nothing to do then. */
export function skipPurged(err: unknown): undefined {
  if (err instanceof AppError && err.extensions.code === LedgerErrorCode.LOG_PURGED) return undefined;
  throw err;
}

export function entryFromData(data: string, sourceEventId: string | null): StoredEntry {
  const parsed = JSON.parse(data) as {
    index: number;
    type: string;
    payload: Record<string, unknown>;
    time: string;
  };
  return { index: parsed.index, type: parsed.type, payload: parsed.payload, data, time: parsed.time, sourceEventId };
}

/**
 * One append-only log per tenant (and the platform log) on an RFC 9162 Merkle tree. Every write goes through
 * `append` in the caller's transaction; the log's head row, taken FOR UPDATE, sequences writers so indexes stay
 * gapless. Complete subtree hashes are stored as they complete, so roots and proofs read O(log n) rows.
 */
export class LedgerLog {
  readonly key: NoteKey;

  constructor(private readonly deps: SubgraphDeps) {
    const pair = deps.keys.ledger;
    if (!pair) throw new Error('The ledger needs NEXUS_LEDGER_PRIVATE_KEY');
    this.key = {
      name: deps.config.ledger.NEXUS_LEDGER_KEY_NAME,
      privateKey: pair.privateKey,
      publicKey: pair.publicKey,
    };
  }

  origin(logId: string): string {
    const base = this.deps.config.ledger.NEXUS_LEDGER_ORIGIN;
    return logId === PLATFORM_LOG ? `${base}/platform` : `${base}/${logId}`;
  }

  /** Takes the log's head until the transaction ends (every writer of this log waits); returns its size. */
  async lock(em: EntityManager, logId: string): Promise<number> {
    return (await this.hold(em, logId)).size;
  }

  /** The time of the transaction holding the log (PostgreSQL's now()), read with the lock. */
  async transactionTime(em: EntityManager, logId: string): Promise<Date> {
    return (await this.hold(em, logId)).now;
  }

  private async hold(em: EntityManager, logId: string): Promise<Head> {
    let heads = held.get(em);
    const mine = heads?.get(logId);
    if (mine) return mine;
    // Read from the locked row itself: a statement that waited for the lock sees its newest version (a
    // subquery would still see its snapshot from before the wait, e.g. no checkpoint that was made meanwhile).
    const select = `SELECT size, checkpointed, now() AS now FROM ledger.heads WHERE tenant_id = $1 FOR UPDATE`;
    let [head] = await em.query(select, [logId]);
    if (!head) {
      // A new log; a purged one is never opened again (its head row is gone and the purge is recorded).
      await em.query(
        `INSERT INTO ledger.heads (tenant_id)
         SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM ledger.purged_logs WHERE owner_tenant = $1)
         ON CONFLICT (tenant_id) DO NOTHING`,
        [logId],
      );
      [head] = await em.query(select, [logId]);
    }
    if (!head) throw ledgerError(LedgerErrorCode.LOG_PURGED);
    if (!heads) held.set(em, (heads = new Map()));
    const taken = { size: Number(head.size), checkpointed: Number(head.checkpointed), now: new Date(head.now) };
    heads.set(logId, taken);
    return taken;
  }

  async append(em: EntityManager, logId: string, entries: NewEntry[]): Promise<StoredEntry[]> {
    if (entries.length === 0) return [];
    const size = await this.lock(em, logId);
    const time = new Date().toISOString();
    const stored = entries.map((e, i) => this.prepare(e, size + i, time));
    const leaves = stored.map((e) => leafHash(Buffer.from(e.data, 'utf8')));
    const edgeTrees = subtreesOf([0, size]);
    const edge = await this.readSubtrees(em, logId, edgeTrees);
    const nodes = appendSubtrees(
      size,
      edgeTrees.map((s) => edge.get(subtreeKey(s))!),
      leaves,
    );
    // Entries and the subtrees they complete in one statement.
    await em.query(
      `WITH n AS (
         INSERT INTO ledger.nodes (tenant_id, level, idx, hash)
         SELECT $1, l, i, h FROM unnest($7::smallint[], $8::bigint[], $9::bytea[]) AS x(l, i, h))
       INSERT INTO ledger.entries (tenant_id, idx, type, data, source_event_id, created_at)
       SELECT $1, i, t, d, s, $6 FROM unnest($2::bigint[], $3::text[], $4::text[], $5::uuid[]) AS x(i, t, d, s)`,
      [
        logId,
        stored.map((e) => e.index),
        stored.map((e) => e.type),
        stored.map((e) => e.data),
        stored.map((e) => e.sourceEventId),
        time,
        nodes.map((n) => n.level),
        nodes.map((n) => n.idx),
        nodes.map((n) => n.hash),
      ],
    );
    const newSize = size + stored.length;
    await em.query(`UPDATE ledger.heads SET size = $2, updated_at = now() WHERE tenant_id = $1`, [logId, newSize]);
    const head = held.get(em)!.get(logId)!;
    head.size = newSize;
    await this.afterAppend(em, logId, size, head);
    return stored;
  }

  /**
   * Schedules the log's next checkpoint: T seconds after the first entry no checkpoint covers, or at once when the
   * log has grown by N entries since its last one. The checkpoint job signs it in a short transaction of its own:
   * a writer's transaction never signs or touches the platform log (where every tenant's checkpoint is witnessed),
   * though while the job holds this log's head its writers wait for it.
   */
  private async afterAppend(
    em: EntityManager,
    logId: string,
    sizeBefore: number,
    head: { size: number; checkpointed: number },
  ): Promise<void> {
    const { LEDGER_CHECKPOINT_ENTRIES, LEDGER_CHECKPOINT_SECONDS } = this.deps.config.ledger;
    const first = sizeBefore === head.checkpointed;
    const full =
      sizeBefore - head.checkpointed < LEDGER_CHECKPOINT_ENTRIES &&
      head.size - head.checkpointed >= LEDGER_CHECKPOINT_ENTRIES;
    if (!first && !full) return;
    await scheduleJob(em, 'ledger', {
      name: 'ledger-checkpoint',
      // One job per checkpoint to come: rescheduling it (full after first) only brings it forward.
      key: `ledger-checkpoint:${logId}:${head.checkpointed}`,
      runAt: new Date(Date.now() + (full ? 0 : LEDGER_CHECKPOINT_SECONDS * 1000)),
      payload: { logId },
    });
  }

  private prepare(entry: NewEntry, index: number, time: string): StoredEntry {
    if (!ENTRY_TYPE.test(entry.type)) throw ledgerError(LedgerErrorCode.INVALID_ENTRY, `Entry type ${entry.type}`);
    const sourceEventId = entry.sourceEventId ?? null;
    const data = canonicalJson({ index, payload: entry.payload, sourceEventId, time, type: entry.type });
    // Hash exactly what PostgreSQL stores: text it would store differently is refused before hashing.
    if (!isStorableText(data))
      throw ledgerError(LedgerErrorCode.INVALID_ENTRY, 'Entry text may not contain NUL or unpaired surrogates');
    if (Buffer.byteLength(data) > MAX_ENTRY_BYTES)
      throw ledgerError(LedgerErrorCode.INVALID_ENTRY, `An entry is at most ${MAX_ENTRY_BYTES} bytes`);
    return { index, type: entry.type, payload: entry.payload, data, time, sourceEventId };
  }

  /**
   * Signs and stores a checkpoint at the log's current size (the caller's transaction holds the head); a tenant
   * log's checkpoint is also recorded in the platform log (the witness), in the same transaction.
   */
  async checkpoint(em: EntityManager, logId: string): Promise<Checkpoint | null> {
    await this.lock(em, logId);
    const head = held.get(em)!.get(logId)!;
    if (head.size === 0 || head.size === head.checkpointed) return null;
    const root = await this.root(em, logId, head.size);
    const origin = this.origin(logId);
    const note = signCheckpoint(this.key, origin, head.size, root);
    const [row] = await em.query(
      `INSERT INTO ledger.checkpoints (tenant_id, size, root, note) VALUES ($1, $2, $3, $4) RETURNING created_at`,
      [logId, head.size, root, note],
    );
    await em.query(`UPDATE ledger.heads SET checkpointed = $2 WHERE tenant_id = $1`, [logId, head.size]);
    head.checkpointed = head.size;
    if (logId !== PLATFORM_LOG) {
      await this.asLog(em, PLATFORM_LOG, () =>
        this.append(em, PLATFORM_LOG, [
          {
            type: 'checkpoint.witnessed',
            payload: { log: logId, origin, treeSize: head.size, rootHash: root.toString('base64') },
          },
        ]),
      );
    }
    return { logId, origin, size: head.size, root, note, createdAt: row.created_at };
  }

  /**
   * Runs `work` with the transaction's tenant setting switched to another log (the platform log's witness and
   * tombstone entries are written in the same transaction as the tenant change that causes them).
   */
  async asLog<T>(em: EntityManager, logId: string, work: () => Promise<T>): Promise<T> {
    const [{ previous }] = await em.query(
      `SELECT current_setting('app.tenant_id', true) AS previous, set_config('app.tenant_id', $1, true)`,
      [logId],
    );
    // On failure the transaction is rolled back anyway: no statement after the error (it would hide it).
    const result = await work();
    await em.query(`SELECT set_config('app.tenant_id', $1, true)`, [previous ?? '']);
    return result;
  }

  async size(em: EntityManager, logId: string): Promise<number> {
    const [head] = await em.query(`SELECT size FROM ledger.heads WHERE tenant_id = $1`, [logId]);
    return head ? Number(head.size) : 0;
  }

  /** Root of the first `size` entries. */
  async root(em: EntityManager, logId: string, size: number): Promise<Hash> {
    if (size === 0) return EMPTY_ROOT;
    const trees = subtreesOf([0, size]);
    const stored = await this.readSubtrees(em, logId, trees);
    return rangeHash([0, size], (s) => stored.get(subtreeKey(s))!);
  }

  async inclusionProof(em: EntityManager, logId: string, index: number, treeSize: number): Promise<Hash[]> {
    checkTreeSize(treeSize);
    if (!Number.isSafeInteger(index) || index < 0 || index >= treeSize)
      throw ledgerError(LedgerErrorCode.INVALID_PROOF_REQUEST, `Entry ${index} is not in a tree of ${treeSize}`);
    return this.rangeHashes(em, logId, treeSize, inclusionRanges(index, treeSize));
  }

  async consistencyProof(em: EntityManager, logId: string, fromSize: number, toSize: number): Promise<Hash[]> {
    checkTreeSize(toSize);
    if (!Number.isSafeInteger(fromSize) || fromSize < 1 || fromSize > toSize)
      throw ledgerError(
        LedgerErrorCode.INVALID_PROOF_REQUEST,
        `A consistency proof goes from a size of at least 1 to a size at least as large (asked ${fromSize} → ${toSize})`,
      );
    return this.rangeHashes(em, logId, toSize, consistencyRanges(fromSize, toSize));
  }

  /** The hashes of `ranges` of the tree of `treeSize` entries: one statement reads the log's size and the subtrees. */
  private async rangeHashes(
    em: EntityManager,
    logId: string,
    treeSize: number,
    ranges: ReturnType<typeof inclusionRanges>,
  ): Promise<Hash[]> {
    const stored = await this.readSubtrees(em, logId, subtreesFor(ranges), treeSize);
    return ranges.map((r) => rangeHash(r, (s) => stored.get(subtreeKey(s))!));
  }

  /**
   * The stored hashes of these complete subtrees, in one statement; a missing one means the log was damaged. With
   * `treeSize`, the same statement reads the log's size, and a tree larger than the log is refused.
   */
  async readSubtrees(
    em: EntityManager,
    logId: string,
    trees: Subtree[],
    treeSize?: number,
  ): Promise<Map<string, Hash>> {
    const out = new Map<string, Hash>();
    const rows: { size: string | null; level: number | null; idx: string | null; hash: Buffer | null }[] =
      await em.query(
        `SELECT (SELECT size FROM ledger.heads WHERE tenant_id = $1) AS size, n.level, n.idx, n.hash
           FROM (SELECT 1) one
           LEFT JOIN (ledger.nodes n JOIN unnest($2::smallint[], $3::bigint[]) AS w(level, idx)
                      ON n.level = w.level AND n.idx = w.idx AND n.tenant_id = $1) ON true`,
        [logId, trees.map((t) => t.level), trees.map((t) => t.idx)],
      );
    if (treeSize !== undefined) {
      const size = Number(rows[0]?.size ?? 0);
      if (treeSize > size)
        throw ledgerError(
          LedgerErrorCode.INVALID_PROOF_REQUEST,
          `Tree size must be between 1 and the log's size (${size}), got ${treeSize}`,
        );
    }
    for (const r of rows) if (r.hash) out.set(`${r.level}:${r.idx}`, r.hash);
    const missing = trees.find((t) => !out.has(subtreeKey(t)));
    if (missing)
      throw ledgerError(
        LedgerErrorCode.LOG_DAMAGED,
        `The log is damaged: the hash of entries ${missing.idx * 2 ** missing.level}…${(missing.idx + 1) * 2 ** missing.level - 1} is missing`,
      );
    return out;
  }

  /** A checkpoint signed now for an earlier (or the current) size; not stored. */
  async checkpointAt(em: EntityManager, logId: string, size: number): Promise<Checkpoint> {
    checkTreeSize(size);
    const stored = await this.readSubtrees(em, logId, subtreesOf([0, size]), size);
    const root = rangeHash([0, size], (s) => stored.get(subtreeKey(s))!);
    const origin = this.origin(logId);
    return { logId, origin, size, root, note: signCheckpoint(this.key, origin, size, root), createdAt: new Date() };
  }
}
