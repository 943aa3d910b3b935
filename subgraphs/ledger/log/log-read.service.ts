import type { EntityManager } from 'typeorm';
import { requirePermissions } from '../../../kernel/auth';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { isUuid } from '../../../kernel/db/values';
import { isStorableText } from '../../../kernel/text';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { LedgerErrorCode, ledgerError } from '../ledger.errors';
import { LedgerLog, PLATFORM_LOG, entryFromData, type Checkpoint } from './log.service';
import {
  LedgerBlock,
  LedgerCheckpoint,
  LedgerConsistencyProof,
  LedgerEntry,
  LedgerEntryConnection,
  LedgerInclusionProof,
  LedgerLogName,
  LedgerPublicKey,
  type LedgerEntryFilter,
} from './log.types';
import { leafHash } from './merkle';
import { noteKeyId, rawPublicKey, verifierKey } from '../../../kernel/ledger-key';

const MAX_PAGE = 500;

function page(first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE)
    throw ledgerError(LedgerErrorCode.INVALID_PROOF_REQUEST, `first must be between 1 and ${MAX_PAGE}`);
  return first;
}

/** Entry types are at most this long (log.service.ts refuses longer ones). */
const MAX_ENTRY_TYPE = 100;

/** `after` of ledgerEntries: an endCursor, i.e. an entry index written in decimal digits. */
function entryCursor(after: string): number {
  const cursor = /^\d+$/.test(after) ? Number(after) : NaN;
  if (!Number.isSafeInteger(cursor))
    throw ledgerError(
      LedgerErrorCode.INVALID_PROOF_REQUEST,
      'after must be an endCursor from pageInfo (an entry index in decimal digits)',
    );
  return cursor;
}

/**
 * The filter as query parameters; null when it matches no entry (a type no entry can have, an event id that is
 * not a UUID). Index bounds must be whole numbers from 0, fromIndex at most toIndex.
 */
function entryFilter(filter: LedgerEntryFilter | undefined): {
  type: string | null;
  fromIndex: number | null;
  toIndex: number | null;
  sourceEventId: string | null;
} | null {
  const { type = null, fromIndex = null, toIndex = null, sourceEventId = null } = filter ?? {};
  for (const [name, bound] of [
    ['fromIndex', fromIndex],
    ['toIndex', toIndex],
  ] as const)
    if (bound !== null && !(Number.isSafeInteger(bound) && bound >= 0))
      throw ledgerError(LedgerErrorCode.INVALID_PROOF_REQUEST, `filter.${name} must be a whole number from 0`);
  if (fromIndex !== null && toIndex !== null && fromIndex > toIndex)
    throw ledgerError(LedgerErrorCode.INVALID_PROOF_REQUEST, 'filter.fromIndex must be at most filter.toIndex');
  if (type !== null && (type.length > MAX_ENTRY_TYPE || !isStorableText(type))) return null;
  if (sourceEventId !== null && !isUuid(sourceEventId)) return null;
  return { type, fromIndex, toIndex, sourceEventId };
}

/** The page info of a page with no entries: the cursor stays where it was. */
function emptyPage(after: string | null | undefined): { endCursor: string | null; hasNextPage: boolean } {
  return { endCursor: after ?? null, hasNextPage: false };
}

export function checkpointType(c: Checkpoint): LedgerCheckpoint {
  return Object.assign(new LedgerCheckpoint(), {
    origin: c.origin,
    treeSize: c.size,
    rootHash: c.root.toString('base64'),
    note: c.note,
    createdAt: c.createdAt,
  });
}

interface CheckpointRow {
  size: string;
  root: Buffer;
  note: string;
  created_at: Date;
}

/** Reading a log: entries, checkpoints, blocks and proofs, each confined to the caller's tenant (or the platform log). */
export class LogReadService {
  private readonly log: LedgerLog;
  constructor(private readonly deps: SubgraphDeps) {
    this.log = new LedgerLog(deps);
  }

  /** Runs `work` on the chosen log: the caller's tenant's, or the platform's for holders of platform:audit. */
  scope<T>(
    ctx: RequestContext,
    which: LedgerLogName,
    work: (em: EntityManager, logId: string) => Promise<T>,
  ): Promise<T> {
    if (which === LedgerLogName.PLATFORM) {
      requirePermissions(ctx, ['platform:audit']);
      return withTenant(this.deps.ds, { ...ctx, tenantId: PLATFORM_LOG }, work);
    }
    return withTenant(this.deps.ds, ctx, work);
  }

  publicKey(): LedgerPublicKey {
    const key = this.log.key;
    return Object.assign(new LedgerPublicKey(), {
      keyName: key.name,
      keyId: noteKeyId(key).toString('hex'),
      publicKey: rawPublicKey(key.publicKey).toString('base64'),
      verifierKey: verifierKey(key),
      algorithm: 'Ed25519',
    });
  }

  private toCheckpoint(logId: string, row: CheckpointRow): LedgerCheckpoint {
    return checkpointType({
      logId,
      origin: this.log.origin(logId),
      size: Number(row.size),
      root: row.root,
      note: row.note,
      createdAt: row.created_at,
    });
  }

  checkpoint(ctx: RequestContext, which: LedgerLogName, treeSize?: number | null): Promise<LedgerCheckpoint | null> {
    return this.scope(ctx, which, async (em, logId) => {
      if (treeSize != null) return checkpointType(await this.log.checkpointAt(em, logId, treeSize));
      const [row] = await em.query(
        `SELECT size, root, note, created_at FROM ledger.checkpoints WHERE tenant_id = $1 ORDER BY size DESC LIMIT 1`,
        [logId],
      );
      return row ? this.toCheckpoint(logId, row) : null;
    });
  }

  checkpoints(ctx: RequestContext, which: LedgerLogName, first: number, after?: number | null) {
    return this.scope(ctx, which, async (em, logId) => {
      const rows: CheckpointRow[] = await em.query(
        `SELECT size, root, note, created_at FROM ledger.checkpoints WHERE tenant_id = $1 AND size > $2
          ORDER BY size LIMIT $3`,
        [logId, after ?? 0, page(first)],
      );
      return rows.map((r) => this.toCheckpoint(logId, r));
    });
  }

  /** Block n runs from the (n-1)th stored checkpoint's size (0 for the first) to the nth's. */
  blocks(ctx: RequestContext, which: LedgerLogName, first: number, after?: number | null): Promise<LedgerBlock[]> {
    return this.scope(ctx, which, async (em, logId) => {
      const rows: (CheckpointRow & { number: string; from_size: string })[] = await em.query(
        `SELECT * FROM (
           SELECT size, root, note, created_at, row_number() OVER (ORDER BY size) - 1 AS number,
                  coalesce(lag(size) OVER (ORDER BY size), 0) AS from_size
             FROM ledger.checkpoints WHERE tenant_id = $1) b
          WHERE number > $2 ORDER BY number LIMIT $3`,
        [logId, after ?? -1, page(first)],
      );
      return rows.map((r) =>
        Object.assign(new LedgerBlock(), {
          number: Number(r.number),
          fromIndex: Number(r.from_size),
          toIndex: Number(r.size),
          checkpoint: this.toCheckpoint(logId, r),
        }),
      );
    });
  }

  entries(
    ctx: RequestContext,
    which: LedgerLogName,
    filter: LedgerEntryFilter | undefined,
    first: number,
    after?: string | null,
  ): Promise<LedgerEntryConnection> {
    const cursor = after == null ? -1 : entryCursor(after);
    const where = entryFilter(filter);
    const limit = page(first);
    return this.scope(ctx, which, async (em, logId) => {
      // A type or event id no entry can have matches nothing (rather than failing in the database).
      if (!where) return Object.assign(new LedgerEntryConnection(), { nodes: [], pageInfo: emptyPage(after) });
      const rows: { idx: string; data: string; source_event_id: string | null }[] = await em.query(
        `SELECT idx, data, source_event_id FROM ledger.entries
          WHERE tenant_id = $1 AND idx > $2 AND ($3::text IS NULL OR type = $3)
            AND ($4::bigint IS NULL OR idx >= $4) AND ($5::bigint IS NULL OR idx < $5)
            AND ($6::uuid IS NULL OR source_event_id = $6)
          ORDER BY idx LIMIT $7`,
        [logId, cursor, where.type, where.fromIndex, where.toIndex, where.sourceEventId, limit + 1],
      );
      const nodes = rows.slice(0, limit).map((r) => this.toEntry(logId, r));
      return Object.assign(new LedgerEntryConnection(), {
        nodes,
        pageInfo: nodes.length
          ? { endCursor: String(nodes[nodes.length - 1].index), hasNextPage: rows.length > limit }
          : emptyPage(after),
      });
    });
  }

  private toEntry(logId: string, row: { data: string; source_event_id: string | null }): LedgerEntry {
    return Object.assign(new LedgerEntry(), {
      logId,
      ...entryFromData(row.data, row.source_event_id),
      leafHash: leafHash(Buffer.from(row.data, 'utf8')).toString('base64'),
    });
  }

  entry(ctx: RequestContext, which: LedgerLogName, index: number): Promise<LedgerEntry | null> {
    return this.scope(ctx, which, async (em, logId) => {
      const [row] = await em.query(
        `SELECT data, source_event_id FROM ledger.entries WHERE tenant_id = $1 AND idx = $2`,
        [logId, index],
      );
      return row ? this.toEntry(logId, row) : null;
    });
  }

  /** Proof that the entry is in the tree of `treeSize` entries (default: the log's current size). */
  inclusionProof(ctx: RequestContext, entry: LedgerEntry, treeSize?: number | null): Promise<LedgerInclusionProof> {
    const which = entry.logId === PLATFORM_LOG ? LedgerLogName.PLATFORM : LedgerLogName.TENANT;
    return this.scope(ctx, which, async (em, logId) => {
      if (logId !== entry.logId) throw ledgerError(LedgerErrorCode.ENTRY_NOT_FOUND);
      const size = treeSize ?? (await this.log.size(em, logId));
      const hashes = await this.log.inclusionProof(em, logId, entry.index, size);
      return Object.assign(new LedgerInclusionProof(), {
        leafIndex: entry.index,
        treeSize: size,
        hashes: hashes.map((h) => h.toString('base64')),
      });
    });
  }

  consistencyProof(ctx: RequestContext, which: LedgerLogName, fromSize: number, toSize: number) {
    return this.scope(ctx, which, async (em, logId) => {
      const hashes = await this.log.consistencyProof(em, logId, fromSize, toSize);
      return Object.assign(new LedgerConsistencyProof(), {
        fromSize,
        toSize,
        hashes: hashes.map((h) => h.toString('base64')),
      });
    });
  }
}
