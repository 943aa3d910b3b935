import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import {
  EMPTY_ROOT,
  TreeBuilder,
  consistencyRanges,
  inclusionRanges,
  leafHash,
  nodeHash,
  rangeHash,
  subtreeKey,
  type Hash,
} from './merkle';

/** RFC 9162 §2.1.1 MTH, straight from the definition (no stored subtrees). */
function mth(leaves: Hash[]): Hash {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

function path(m: number, leaves: Hash[]): Hash[] {
  if (leaves.length <= 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return m < k
    ? [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))]
    : [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

function subproof(m: number, leaves: Hash[], complete: boolean): Hash[] {
  const n = leaves.length;
  if (m === n) return complete ? [] : [mth(leaves)];
  let k = 1;
  while (k * 2 < n) k *= 2;
  return m <= k
    ? [...subproof(m, leaves.slice(0, k), complete), mth(leaves.slice(k))]
    : [...subproof(m - k, leaves.slice(k), false), mth(leaves.slice(0, k))];
}

describe('Merkle tree from stored complete subtrees', () => {
  const leaves = Array.from({ length: 70 }, (_, i) => leafHash(`entry ${i}`));
  // What the log stores while it grows: every complete subtree, as TreeBuilder reports them.
  const stored = new Map<string, Hash>();
  const tree = new TreeBuilder(0, []);
  const roots: Hash[] = [EMPTY_ROOT];
  for (const leaf of leaves) {
    for (const n of tree.push(leaf)) stored.set(subtreeKey(n), n.hash);
    roots.push(tree.root());
  }
  const lookup = (s: { level: number; idx: number }) => stored.get(subtreeKey(s))!;

  it('gives the RFC 9162 root, inclusion and consistency proofs for every size up to 70', () => {
    for (let n = 1; n <= leaves.length; n++) {
      const prefix = leaves.slice(0, n);
      expect(roots[n]).toEqual(mth(prefix));
      expect(rangeHash([0, n], lookup)).toEqual(mth(prefix));
      for (let m = 0; m < n; m++)
        expect(inclusionRanges(m, n).map((r) => rangeHash(r, lookup))).toEqual(path(m, prefix));
      for (let m = 1; m <= n; m++)
        expect(consistencyRanges(m, n).map((r) => rangeHash(r, lookup))).toEqual(subproof(m, prefix, true));
    }
  });

  it('hashes leaves and nodes with the RFC 6962/9162 domain prefixes', () => {
    expect(EMPTY_ROOT.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(leafHash('')).toEqual(
      createHash('sha256')
        .update(Buffer.from([0]))
        .digest(),
    );
  });
});

describe('canonical JSON (RFC 8785)', () => {
  it('sorts members by UTF-16 code units and prints numbers as ECMAScript does', () => {
    expect(canonicalJson({ b: [1e21, 0.000001, -0], a: 'é\u000f', '\u20ac': 1, '\ud83d\ude00': 2, é: 3 })).toBe(
      '{"a":"é\\u000f","b":[1e+21,0.000001,0],"é":3,"€":1,"😀":2}',
    );
  });
});
