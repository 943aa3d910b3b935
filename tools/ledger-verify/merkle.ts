import { createHash } from 'node:crypto';

/** Merkle tree hashing and proof verification of RFC 9162 §2.1 (SHA-256). */

export const HASH_SIZE = 32;

/** MTH({}) = SHA-256 of the empty string. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

/** MTH({d}) = SHA-256(0x00 || d); a string is hashed as its UTF-8 bytes. */
export function leafHash(data: string | Uint8Array): Buffer {
  return createHash('sha256')
    .update(Uint8Array.of(0x00))
    .update(typeof data === 'string' ? Buffer.from(data, 'utf8') : data)
    .digest();
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(Uint8Array.of(0x01)).update(left).update(right).digest();
}

function isSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** Halving without 32-bit bitwise operators, so sizes up to 2^53 work. */
function half(n: number): number {
  return Math.floor(n / 2);
}

function odd(n: number): boolean {
  return n % 2 === 1;
}

function isPowerOfTwo(n: number): boolean {
  let m = n;
  while (m > 1 && !odd(m)) m = half(m);
  return m === 1;
}

/**
 * RFC 9162 §2.1.3.2: true when `proof` (the inclusion path, in RFC order) proves that the leaf with hash
 * `leaf` sits at `index` of the tree of `size` leaves whose root hash is `root`.
 */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isSize(index) || !isSize(size) || index >= size) return false;
  if (!isHash(leaf) || !isHash(root) || !proof.every(isHash)) return false;
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameHash(r, root);
}

/**
 * RFC 9162 §2.1.4.2: true when `proof` (in RFC order) proves that the tree of `oldSize` leaves with root
 * `oldRoot` is a prefix of the tree of `newSize` leaves with root `newRoot`. Equal sizes need an empty proof
 * and equal roots; an empty old tree (root SHA-256("")) is a prefix of every tree, with an empty proof.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  proof: readonly Uint8Array[],
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
): boolean {
  if (!isSize(oldSize) || !isSize(newSize) || oldSize > newSize) return false;
  if (!isHash(oldRoot) || !isHash(newRoot) || !proof.every(isHash)) return false;
  if (oldSize === newSize) return proof.length === 0 && sameHash(oldRoot, newRoot);
  if (oldSize === 0) return proof.length === 0 && sameHash(oldRoot, EMPTY_ROOT);
  if (proof.length === 0) return false;
  // An old size that is a power of two is a complete subtree of the new tree: its root starts the path.
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : [...proof];
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Uint8Array = path[0];
  let sr: Uint8Array = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameHash(fr, oldRoot) && sameHash(sr, newRoot);
}
