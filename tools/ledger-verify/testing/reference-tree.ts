import { createHash } from 'node:crypto';

/*
 * Test reference, not used by the verifier: Merkle trees built with the recursive definitions of RFC 9162 §2.1.1 (MTH), §2.1.3.1 (PATH) and
 * §2.1.4.1 (PROOF / SUBPROOF), written here independently of the verifier's iterative algorithms.
 */
const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

export class ReferenceTree {
  private readonly cache = new Map<string, Buffer>();
  readonly leaves: Buffer[];

  /** A tree of `size` made-up leaves, or of the given leaf data. */
  constructor(size: number | Buffer[], salt = '') {
    this.leaves =
      typeof size === 'number' ? Array.from({ length: size }, (_, i) => Buffer.from(`${salt}leaf ${i}`, 'utf8')) : size;
  }

  /** Largest power of two smaller than n (n > 1). */
  private static split(n: number): number {
    let k = 1;
    while (k * 2 < n) k *= 2;
    return k;
  }

  /** MTH(D[lo:hi]). */
  mth(lo: number, hi: number): Buffer {
    const key = `${lo}:${hi}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const n = hi - lo;
    let h: Buffer;
    if (n === 0) h = sha256();
    else if (n === 1) h = sha256(Buffer.of(0), this.leaves[lo]);
    else {
      const k = ReferenceTree.split(n);
      h = sha256(Buffer.of(1), this.mth(lo, lo + k), this.mth(lo + k, hi));
    }
    this.cache.set(key, h);
    return h;
  }

  root(size = this.leaves.length): Buffer {
    return this.mth(0, size);
  }

  /** PATH(m, D[lo:hi]). */
  path(m: number, lo: number, hi: number): Buffer[] {
    const n = hi - lo;
    if (n === 1) return [];
    const k = ReferenceTree.split(n);
    return m < k
      ? [...this.path(m, lo, lo + k), this.mth(lo + k, hi)]
      : [...this.path(m - k, lo + k, hi), this.mth(lo, lo + k)];
  }

  /** SUBPROOF(m, D[lo:hi], b). */
  subproof(m: number, lo: number, hi: number, b: boolean): Buffer[] {
    const n = hi - lo;
    if (m === n) return b ? [] : [this.mth(lo, hi)];
    const k = ReferenceTree.split(n);
    return m <= k
      ? [...this.subproof(m, lo, lo + k, b), this.mth(lo + k, hi)]
      : [...this.subproof(m - k, lo + k, hi, false), this.mth(lo, lo + k)];
  }

  /** PROOF(m, D[0:n]). */
  consistency(m: number, n: number): Buffer[] {
    return this.subproof(m, 0, n, true);
  }
}
