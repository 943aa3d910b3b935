import { createHash } from 'node:crypto';
import { EMPTY_ROOT, leafHash, verifyConsistency, verifyInclusion } from './merkle';
import { ReferenceTree } from './testing/reference-tree';

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/**
 * Which side each proof hash joins on (and, for consistency proofs, where a subtree hash starts the proof). Two
 * proofs of the same shape fold the same hashes the same way, so a verifier cannot tell their sizes apart: a
 * wrong size must be refused exactly when its shape differs.
 */
function largestPowerBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function pathShape(m: number, n: number): string {
  if (n === 1) return '';
  const k = largestPowerBelow(n);
  return m < k ? pathShape(m, k) + 'R' : pathShape(m - k, n - k) + 'L';
}
function proofShape(m: number, n: number, b = true): string {
  if (m === n) return b ? '' : 'X';
  const k = largestPowerBelow(n);
  return m <= k ? proofShape(m, k, b) + 'R' : proofShape(m - k, n - k, false) + 'L';
}

const flip = (h: Buffer, byte = 0): Buffer => {
  const copy = Buffer.from(h);
  copy[byte] ^= 0x01;
  return copy;
};

const MAX = 70;
const tree = new ReferenceTree(MAX);

describe('RFC 9162 hashing', () => {
  it('hashes leaves as SHA-256(0x00 || data) and the empty tree as SHA-256("")', () => {
    expect(leafHash('leaf 3')).toEqual(tree.mth(3, 4));
    expect(leafHash(Buffer.from('leaf 3'))).toEqual(tree.mth(3, 4));
    expect(EMPTY_ROOT.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

describe('verifyInclusion', () => {
  it('accepts the RFC 9162 inclusion proof of every leaf of every tree of 1..70 leaves', () => {
    for (let n = 1; n <= MAX; n++) {
      for (let i = 0; i < n; i++) {
        expect([n, i, verifyInclusion(leafHash(tree.leaves[i]), i, n, tree.path(i, 0, n), tree.root(n))]).toEqual([
          n,
          i,
          true,
        ]);
      }
    }
  });

  it('refuses flipped proof bytes, wrong indexes and sizes, truncated and extended proofs, wrong leaves and roots', () => {
    const other = new ReferenceTree(MAX, 'other ');
    for (let n = 1; n <= MAX; n++) {
      const root = tree.root(n);
      for (let i = 0; i < n; i++) {
        const leaf = leafHash(tree.leaves[i]);
        const proof = tree.path(i, 0, n);
        const refused = (what: string, ok: boolean): void => expect([n, i, what, ok]).toEqual([n, i, what, false]);
        proof.forEach((_, j) => {
          refused(
            `flip ${j}`,
            verifyInclusion(
              leaf,
              i,
              n,
              proof.map((h, x) => (x === j ? flip(h, j % 32) : h)),
              root,
            ),
          );
        });
        if (i + 1 < n) refused('index + 1', verifyInclusion(leaf, i + 1, n, proof, root));
        if (i > 0) refused('index - 1', verifyInclusion(leaf, i - 1, n, proof, root));
        refused('index = size', verifyInclusion(leaf, n, n, proof, root));
        for (const size of [n - 1, n + 1, 2 * n]) {
          if (size <= i) continue;
          const accepted = pathShape(i, size) === pathShape(i, n);
          expect([n, i, `size ${size}`, verifyInclusion(leaf, i, size, proof, root)]).toEqual([
            n,
            i,
            `size ${size}`,
            accepted,
          ]);
        }
        if (proof.length) refused('truncated', verifyInclusion(leaf, i, n, proof.slice(0, -1), root));
        if (proof.length) refused('first dropped', verifyInclusion(leaf, i, n, proof.slice(1), root));
        refused('extended', verifyInclusion(leaf, i, n, [...proof, tree.mth(0, 1)], root));
        refused('other leaf', verifyInclusion(leafHash(other.leaves[i]), i, n, proof, root));
        refused('other root', verifyInclusion(leaf, i, n, proof, other.root(n)));
        refused('raw data as leaf hash', verifyInclusion(sha256(tree.leaves[i]), i, n, proof, root));
      }
    }
  });

  it('refuses malformed arguments', () => {
    const leaf = leafHash(tree.leaves[0]);
    expect(verifyInclusion(leaf, 0, 0, [], EMPTY_ROOT)).toBe(false);
    expect(verifyInclusion(leaf, -1, 2, tree.path(0, 0, 2), tree.root(2))).toBe(false);
    expect(verifyInclusion(leaf, 0.5, 2, tree.path(0, 0, 2), tree.root(2))).toBe(false);
    expect(verifyInclusion(leaf.subarray(0, 31), 0, 1, [], leaf.subarray(0, 31))).toBe(false);
    expect(verifyInclusion(leaf, 0, 2, [Buffer.alloc(31)], tree.root(2))).toBe(false);
  });
});

describe('verifyConsistency', () => {
  it('accepts the RFC 9162 consistency proof between every pair of sizes 1 <= m <= n <= 70', () => {
    for (let n = 1; n <= MAX; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = m === n ? [] : tree.consistency(m, n);
        expect([m, n, verifyConsistency(m, n, proof, tree.root(m), tree.root(n))]).toEqual([m, n, true]);
      }
    }
  });

  it('accepts the empty tree as a prefix of any tree, with an empty proof', () => {
    expect(verifyConsistency(0, 5, [], EMPTY_ROOT, tree.root(5))).toBe(true);
    expect(verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)).toBe(true);
    expect(verifyConsistency(0, 5, [], tree.root(1), tree.root(5))).toBe(false);
    expect(verifyConsistency(0, 5, [tree.root(5)], EMPTY_ROOT, tree.root(5))).toBe(false);
  });

  it('refuses flipped proof bytes, wrong sizes, truncated and extended proofs, and rewritten history', () => {
    const other = new ReferenceTree(MAX, 'other ');
    for (let n = 1; n <= MAX; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = m === n ? [] : tree.consistency(m, n);
        const [oldRoot, newRoot] = [tree.root(m), tree.root(n)];
        const refused = (what: string, ok: boolean): void => expect([m, n, what, ok]).toEqual([m, n, what, false]);
        proof.forEach((_, j) => {
          const tampered = proof.map((h, x) => (x === j ? flip(h, (j * 7) % 32) : h));
          refused(`flip ${j}`, verifyConsistency(m, n, tampered, oldRoot, newRoot));
        });
        if (proof.length) refused('truncated', verifyConsistency(m, n, proof.slice(0, -1), oldRoot, newRoot));
        if (proof.length) refused('first dropped', verifyConsistency(m, n, proof.slice(1), oldRoot, newRoot));
        refused('extended', verifyConsistency(m, n, [...proof, tree.mth(0, 1)], oldRoot, newRoot));
        if (m < n) {
          refused('sizes swapped', verifyConsistency(n, m, proof, newRoot, oldRoot));
          const wrongSizes = [
            [m + 1, n],
            [m - 1, n],
            [m, n + 1],
            [m, n - 1],
            [m, 2 * n],
          ].filter(([a, b]) => a >= 1 && a < b);
          for (const [a, b] of wrongSizes) {
            const accepted = proofShape(a, b) === proofShape(m, n);
            const what = `sizes ${a}, ${b}`;
            expect([m, n, what, verifyConsistency(a, b, proof, oldRoot, newRoot)]).toEqual([m, n, what, accepted]);
          }
        }
        refused('old root of another log', verifyConsistency(m, n, proof, other.root(m), newRoot));
        refused('new root of another log', verifyConsistency(m, n, proof, oldRoot, other.root(n)));
        refused('flipped old root', verifyConsistency(m, n, proof, flip(oldRoot), newRoot));
        refused('flipped new root', verifyConsistency(m, n, proof, oldRoot, flip(newRoot)));
        // A log that kept its first m - 1 leaves but replaced leaf m - 1 is not an extension.
        if (m < n) {
          const rewritten = new ReferenceTree(n);
          rewritten.leaves[m - 1] = Buffer.from('rewritten');
          const forged = rewritten.consistency(m, n);
          refused('rewritten leaf', verifyConsistency(m, n, forged, oldRoot, rewritten.root(n)));
        }
      }
    }
  });

  it('refuses a proof from a bigger to a smaller tree and malformed arguments', () => {
    expect(verifyConsistency(5, 3, [], tree.root(5), tree.root(3))).toBe(false);
    expect(verifyConsistency(3, 5, [], tree.root(3), tree.root(5))).toBe(false);
    expect(verifyConsistency(-1, 5, tree.consistency(1, 5), tree.root(1), tree.root(5))).toBe(false);
    expect(verifyConsistency(3, 3, [], tree.root(3), tree.root(4))).toBe(false);
    expect(verifyConsistency(3, 3, [tree.root(3)], tree.root(3), tree.root(3))).toBe(false);
  });
});
