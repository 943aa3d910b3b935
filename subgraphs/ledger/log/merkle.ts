import { createHash } from 'node:crypto';

/**
 * RFC 9162 §2.1 Merkle trees over a log's entries, computed from stored complete subtrees.
 *
 * A complete subtree is `(level, idx)`: the 2^level leaves starting at leaf idx·2^level. Every range the RFC's
 * recursions ask for starts at a multiple of the largest power of two below its length, so its hash is a fold of
 * at most log2(n) complete subtrees: a proof needs O(log n) stored hashes (at most log² n for the partial ones at
 * the right edge, all read in one query), never a rescan.
 */

export type Hash = Buffer;
/** A complete subtree: 2^level leaves from leaf idx·2^level. */
export interface Subtree {
  level: number;
  idx: number;
}
/** Leaves [start, end). */
type Range = readonly [start: number, end: number];

export const EMPTY_ROOT: Hash = createHash('sha256').digest();

export function leafHash(data: Buffer | string): Hash {
  return createHash('sha256')
    .update(Buffer.from([0]))
    .update(data)
    .digest();
}

export function nodeHash(left: Hash, right: Hash): Hash {
  return createHash('sha256')
    .update(Buffer.from([1]))
    .update(left)
    .update(right)
    .digest();
}

/** Largest power of two strictly below n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The complete subtrees that make up [start, end), left to right (sizes decreasing). */
export function subtreesOf([start, end]: Range): Subtree[] {
  const out: Subtree[] = [];
  let at = start;
  while (at < end) {
    let size = 1;
    // Grow while the subtree stays aligned at `at` and inside the range.
    while (at % (size * 2) === 0 && at + size * 2 <= end) size *= 2;
    out.push({ level: Math.log2(size), idx: at / size });
    at += size;
  }
  return out;
}

export function subtreeKey(s: Subtree): string {
  return `${s.level}:${s.idx}`;
}

/** Hash of [start, end) from its complete subtrees: H(s1, H(s2, … H(sk-1, sk))). */
export function rangeHash(range: Range, lookup: (s: Subtree) => Hash): Hash {
  const parts = subtreesOf(range).map(lookup);
  let hash = parts[parts.length - 1];
  for (let i = parts.length - 2; i >= 0; i--) hash = nodeHash(parts[i], hash);
  return hash;
}

/** RFC 9162 §2.1.3.1 PATH(m, D[0:n]): the ranges whose hashes form the inclusion proof, in proof order. */
export function inclusionRanges(m: number, n: number): Range[] {
  if (m < 0 || m >= n) throw new RangeError(`leaf ${m} is not in a tree of size ${n}`);
  const out: Range[] = [];
  const walk = (m: number, start: number, n: number) => {
    if (n <= 1) return;
    const k = splitPoint(n);
    if (m < k) {
      walk(m, start, k);
      out.push([start + k, start + n]);
    } else {
      walk(m - k, start + k, n - k);
      out.push([start, start + k]);
    }
  };
  walk(m, 0, n);
  return out;
}

/** RFC 9162 §2.1.4.1 PROOF(m, D[0:n]): the ranges whose hashes form the consistency proof, in proof order. */
export function consistencyRanges(m: number, n: number): Range[] {
  if (m < 1 || m > n) throw new RangeError(`no consistency proof from size ${m} to size ${n}`);
  const out: Range[] = [];
  const sub = (m: number, start: number, n: number, complete: boolean) => {
    if (m === n) {
      if (!complete) out.push([start, start + n]);
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      sub(m, start, k, complete);
      out.push([start + k, start + n]);
    } else {
      sub(m - k, start + k, n - k, false);
      out.push([start, start + k]);
    }
  };
  sub(m, 0, n, true);
  return out;
}

/** Every stored subtree the ranges need, without repeats. */
export function subtreesFor(ranges: readonly Range[]): Subtree[] {
  const seen = new Map<string, Subtree>();
  for (const r of ranges) for (const s of subtreesOf(r)) seen.set(subtreeKey(s), s);
  return [...seen.values()];
}

/** A tree grown leaf by leaf from a known right edge: reports each complete subtree as it completes. */
export class TreeBuilder {
  /** The right edge: complete subtrees of [0, size), left to right, sizes decreasing. */
  private readonly stack: { level: number; hash: Hash }[];

  constructor(
    public size: number,
    edge: Hash[],
  ) {
    this.stack = subtreesOf([0, size]).map((s, i) => ({ level: s.level, hash: edge[i] }));
  }

  /** Adds the next leaf; returns the subtrees it completes, the leaf itself first. */
  push(leaf: Hash): { level: number; idx: number; hash: Hash }[] {
    const n = this.size;
    const out = [{ level: 0, idx: n, hash: leaf }];
    let top = { level: 0, hash: leaf };
    // Merge equal-sized neighbours: each merge completes a subtree one level up, ending at leaf n.
    while (this.stack.length && this.stack[this.stack.length - 1].level === top.level) {
      const left = this.stack.pop()!;
      top = { level: top.level + 1, hash: nodeHash(left.hash, top.hash) };
      out.push({ level: top.level, idx: (n + 1) / 2 ** top.level - 1, hash: top.hash });
    }
    this.stack.push(top);
    this.size = n + 1;
    return out;
  }

  root(): Hash {
    if (this.stack.length === 0) return EMPTY_ROOT;
    let hash = this.stack[this.stack.length - 1].hash;
    for (let i = this.stack.length - 2; i >= 0; i--) hash = nodeHash(this.stack[i].hash, hash);
    return hash;
  }
}

/** Appending leaves to a tree of `size` leaves with right edge `edge`: every new complete subtree to store. */
export function appendSubtrees(
  size: number,
  edge: Hash[],
  leaves: Hash[],
): { level: number; idx: number; hash: Hash }[] {
  const tree = new TreeBuilder(size, edge);
  return leaves.flatMap((leaf) => tree.push(leaf));
}
