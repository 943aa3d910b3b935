import { verify as verifySignature } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { canonicalJson } from './canonical-json';
import { LedgerLog, PLATFORM_LOG } from './log.service';
import { TreeBuilder, leafHash, subtreeKey, subtreesOf } from './merkle';
import { checkpointBody } from './signed-note';

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

/**
 * Recomputes a range of a log from its stored rows: every entry present, in place and canonical, every stored
 * subtree hash equal to the recomputed one, every stored checkpoint correctly signed and equal to the recomputed
 * root, and (for a tenant log) every checkpoint the platform log witnessed still matching. Reports the first bad
 * index; altering, removing, reordering or truncating rows — even with hashes recomputed — is caught here.
 */
export class LogVerifier {
  constructor(private readonly log: LedgerLog) {}

  async verify(em: EntityManager, logId: string, fromIndex?: number | null, toIndex?: number | null) {
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
      const roots = await this.expectedRoots(em, logId, treeSize);
      await this.scan(em, logId, from, to, roots);
      return result;
    } catch (err) {
      if (!(err instanceof Damage)) throw err;
      return { ...result, ok: false, firstBadIndex: err.index, problem: err.message };
    }
  }

  /** Roots the log must have at given sizes: its signed checkpoints, and what the platform log witnessed. */
  private async expectedRoots(em: EntityManager, logId: string, treeSize: number): Promise<Map<number, string>> {
    const roots = new Map<number, string>();
    const rows: { size: string; root: Buffer; note: string }[] = await em.query(
      `SELECT size, root, note FROM ledger.checkpoints WHERE tenant_id = $1 ORDER BY size`,
      [logId],
    );
    let previous = 0;
    for (const row of rows) {
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
    if (logId === PLATFORM_LOG) return roots;
    const witnessed: { data: string }[] = await this.log.asLog(em, PLATFORM_LOG, () =>
      em.query(
        `SELECT data FROM ledger.entries WHERE tenant_id = $1 AND type = 'checkpoint.witnessed' AND data LIKE $2
          ORDER BY idx`,
        [PLATFORM_LOG, `%"log":"${logId}"%`],
      ),
    );
    for (const { data } of witnessed) {
      const { treeSize: size, rootHash } = (JSON.parse(data) as { payload: { treeSize: number; rootHash: string } })
        .payload;
      if (size > treeSize)
        throw new Damage(treeSize, `The platform log witnessed ${size} entries but the log holds ${treeSize}`);
      const stored = roots.get(size);
      if (stored !== undefined && stored !== rootHash)
        throw new Damage(0, `The checkpoint at size ${size} differs from the one the platform log witnessed`);
      roots.set(size, rootHash);
    }
    return roots;
  }

  private signedBy(note: string, origin: string, size: number, root: Buffer): boolean {
    const body = checkpointBody(origin, size, root);
    if (!note.startsWith(`${body}\n\u2014 ${this.log.key.name} `)) return false;
    const signature = Buffer.from(note.slice(body.length + 4 + this.log.key.name.length).trim(), 'base64');
    return (
      signature.length === 68 &&
      verifySignature(null, Buffer.from(body, 'utf8'), this.log.key.publicKey, signature.subarray(4))
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
    if (canonicalJson(parsed) !== row.data) throw new Damage(index, `Entry ${index} is not in canonical form`);
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
