import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';

/**
 * C2SP signed notes (Ed25519 signatures only) and C2SP tlog-checkpoint bodies.
 *
 * Verifier key: `<name>+<hex key id>+<base64(0x01 || 32-byte public key)>`, key id = first 4 bytes of
 * SHA-256(name || 0x0A || 0x01 || public key). Note: text (lines ending in `\n`), a blank line, then
 * signature lines `— <name> <base64(key id || signature)>` (U+2014 then a space).
 */

const ED25519 = 0x01;
const SIGNATURE_PREFIX = '\u2014 ';
const MAX_SIGNATURES = 100;

export interface VerifierKey {
  name: string;
  /** 4 bytes. */
  keyId: Buffer;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Buffer;
  keyObject: KeyObject;
  /** The verifier key text it was parsed from. */
  text: string;
}

export interface NoteSignature {
  name: string;
  keyId: Buffer;
  signature: Buffer;
}

export interface Checkpoint {
  origin: string;
  treeSize: number;
  /** Root hash, 32 bytes. */
  root: Buffer;
  /** Root hash as standard base64 (with padding). */
  rootHash: string;
  /** Extension lines after the root hash (without their newline). */
  extensions: string[];
}

export type NoteResult = { ok: true; text: string } | { ok: false; problem: string };
export type CheckpointResult = { ok: true; text: string; checkpoint: Checkpoint } | { ok: false; problem: string };

export class NoteFormatError extends Error {
  override name = 'NoteFormatError';
}

/** Standard base64 with padding, refusing anything `Buffer.from(…, 'base64')` would silently skip. */
export function decodeBase64(text: string): Buffer | null {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}

function validKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name);
}

/** First 4 bytes of SHA-256(name || 0x0A || 0x01 || public key). */
export function ed25519KeyId(name: string, publicKey: Uint8Array): Buffer {
  return createHash('sha256')
    .update(Buffer.from(name, 'utf8'))
    .update(Uint8Array.of(0x0a, ED25519))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
}

/** The verifier key text of an Ed25519 public key (raw 32 bytes). */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  const id = ed25519KeyId(name, publicKey).toString('hex');
  return `${name}+${id}+${Buffer.concat([Uint8Array.of(ED25519), publicKey]).toString('base64')}`;
}

/** Parses and checks a verifier key; throws NoteFormatError saying what is wrong. */
export function parseVerifierKey(text: string): VerifierKey {
  // The name and the id contain no '+'; the base64 key may.
  const match = /^([^+]*)\+([^+]*)\+(.*)$/s.exec(text.trim());
  if (!match) throw new NoteFormatError('verifier key must be <name>+<hex key id>+<base64 key>');
  const [, name, idHex, keyB64] = match;
  if (!validKeyName(name)) throw new NoteFormatError('verifier key name is empty or contains whitespace');
  if (!/^[0-9a-fA-F]{8}$/.test(idHex)) throw new NoteFormatError('verifier key id must be 8 hex digits');
  const key = decodeBase64(keyB64);
  if (!key) throw new NoteFormatError('verifier key is not valid base64');
  if (key.length !== 33 || key[0] !== ED25519) {
    throw new NoteFormatError('verifier key is not an Ed25519 key (0x01 followed by 32 bytes)');
  }
  const publicKey = key.subarray(1);
  const keyId = Buffer.from(idHex, 'hex');
  if (!keyId.equals(ed25519KeyId(name, publicKey))) {
    throw new NoteFormatError(`verifier key id ${idHex} does not match SHA-256(name, 0x0A, 0x01, key)`);
  }
  const keyObject = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: publicKey.toString('base64url') },
    format: 'jwk',
  });
  return { name, keyId, publicKey: Buffer.from(publicKey), keyObject, text: text.trim() };
}

/** Splits a note into its text and signatures; throws NoteFormatError on a malformed note. */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (!note.endsWith('\n')) throw new NoteFormatError('note does not end with a newline');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new NoteFormatError('note has no blank line before its signatures');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteFormatError('note has too many signatures');
  const signatures = lines.map((line) => {
    if (!line.startsWith(SIGNATURE_PREFIX)) throw new NoteFormatError(`malformed signature line: ${line}`);
    const fields = line.slice(SIGNATURE_PREFIX.length).split(' ');
    if (fields.length !== 2 || !validKeyName(fields[0])) {
      throw new NoteFormatError(`malformed signature line: ${line}`);
    }
    const blob = decodeBase64(fields[1]);
    if (!blob || blob.length < 5) throw new NoteFormatError(`malformed signature on line: ${line}`);
    return { name: fields[0], keyId: blob.subarray(0, 4), signature: blob.subarray(4) };
  });
  return { text, signatures };
}

/**
 * Verifies a signed note against one verifier key: at least one signature line must carry the key's name and
 * id, and every such line must be a valid Ed25519 signature of the note text. Lines of other keys are ignored.
 */
export function verifyNote(note: string, vkey: string | VerifierKey): NoteResult {
  let key: VerifierKey;
  let parsed: { text: string; signatures: NoteSignature[] };
  try {
    key = typeof vkey === 'string' ? parseVerifierKey(vkey) : vkey;
    parsed = parseNote(note);
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  }
  const mine = parsed.signatures.filter((s) => s.name === key.name && s.keyId.equals(key.keyId));
  if (mine.length === 0) {
    const found = parsed.signatures.map((s) => `${s.name}+${s.keyId.toString('hex')}`).join(', ') || 'none';
    return {
      ok: false,
      problem: `no signature by ${key.name}+${key.keyId.toString('hex')} (signatures by: ${found})`,
    };
  }
  const body = Buffer.from(parsed.text, 'utf8');
  for (const s of mine) {
    if (s.signature.length !== 64 || !verify(null, body, key.keyObject, s.signature)) {
      return { ok: false, problem: `the Ed25519 signature by ${key.name} does not verify` };
    }
  }
  return { ok: true, text: parsed.text };
}

/** Parses a C2SP tlog-checkpoint body: origin, decimal tree size, base64 root hash, extension lines. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw new NoteFormatError('checkpoint does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new NoteFormatError('checkpoint needs origin, size and root hash lines');
  const [origin, sizeText, rootHash, ...extensions] = lines;
  if (origin.length === 0) throw new NoteFormatError('checkpoint origin is empty');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    throw new NoteFormatError(`checkpoint tree size "${sizeText}" is not a decimal number`);
  }
  const root = decodeBase64(rootHash);
  if (!root || root.length !== 32) throw new NoteFormatError('checkpoint root hash is not base64 of 32 bytes');
  if (extensions.some((line) => line.length === 0)) throw new NoteFormatError('checkpoint has an empty line');
  return { origin, treeSize: Number(sizeText), root, rootHash, extensions };
}

/** verifyNote, then parseCheckpoint of the signed text. */
export function verifyCheckpoint(note: string, vkey: string | VerifierKey): CheckpointResult {
  const result = verifyNote(note, vkey);
  if (!result.ok) return result;
  try {
    return { ok: true, text: result.text, checkpoint: parseCheckpoint(result.text) };
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  }
}
