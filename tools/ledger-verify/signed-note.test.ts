import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import {
  decodeBase64,
  formatVerifierKey,
  NoteFormatError,
  parseCheckpoint,
  parseVerifierKey,
  verifyCheckpoint,
  verifyNote,
} from './signed-note';

/** A signer written here from the C2SP signed-note text, independently of the verifier. */
function newSigner(name: string): { name: string; vkey: string; id: Buffer; pub: Buffer; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const id = createHash('sha256')
    .update(Buffer.concat([Buffer.from(name), Buffer.of(0x0a, 0x01), pub]))
    .digest()
    .subarray(0, 4);
  const vkey = `${name}+${id.toString('hex')}+${Buffer.concat([Buffer.of(1), pub]).toString('base64')}`;
  return { name, vkey, id, pub, privateKey };
}

function signatureLine(signer: ReturnType<typeof newSigner>, body: string, as = signer.name, id = signer.id): string {
  const sig = sign(null, Buffer.from(body, 'utf8'), signer.privateKey);
  return `\u2014 ${as} ${Buffer.concat([id, sig]).toString('base64')}\n`;
}

const root = createHash('sha256').update('some root').digest();
const body = `nexus.local/ledger/2b1f0d2e-8e55-4a7c-9d3e-7f1f3c1a0b11\n42\n${root.toString('base64')}\n`;

describe('verifier keys', () => {
  it('parses a verifier key and checks its key id', () => {
    const signer = newSigner('nexus.local/ledger');
    const key = parseVerifierKey(signer.vkey);
    expect(key.name).toBe('nexus.local/ledger');
    expect(key.keyId).toEqual(signer.id);
    expect(key.publicKey).toEqual(signer.pub);
    expect(formatVerifierKey(key.name, key.publicKey)).toBe(signer.vkey);
    expect(parseVerifierKey(`${signer.vkey}\n`).text).toBe(signer.vkey);
  });

  it('refuses keys with a wrong id, another algorithm, a bad name or bad base64', () => {
    const signer = newSigner('nexus.local/ledger');
    const [name, id] = signer.vkey.split('+');
    const key = signer.vkey.slice(name.length + id.length + 2);
    const otherId = Buffer.from(id, 'hex');
    otherId[0] ^= 1;
    const raw = decodeBase64(key)!;
    const bad = [
      `${name}+${otherId.toString('hex')}+${key}`,
      `other.name+${id}+${key}`,
      `${name}+${id}+${Buffer.concat([Buffer.of(2), raw.subarray(1)]).toString('base64')}`,
      `${name}+${id}+${raw.subarray(0, 32).toString('base64')}`,
      `${name}+${id}+${key.slice(0, -1)}`,
      `${name}+${id.slice(1)}+${key}`,
      `na me+${id}+${key}`,
      `+${id}+${key}`,
      `${name}+${id}`,
    ];
    const refusal = (text: string): string => {
      try {
        parseVerifierKey(text);
        return 'accepted';
      } catch (err) {
        return (err as Error).name;
      }
    };
    for (const text of bad) expect([text, refusal(text)]).toEqual([text, NoteFormatError.name]);
  });
});

describe('verifyNote', () => {
  const signer = newSigner('nexus.local/ledger');
  const note = `${body}\n${signatureLine(signer, body)}`;

  it('accepts a note signed by the key and returns its text', () => {
    expect(verifyNote(note, signer.vkey)).toEqual({ ok: true, text: body });
    expect(verifyNote(note, parseVerifierKey(signer.vkey)).ok).toBe(true);
  });

  it('accepts a note that also carries signatures of other keys, in any order', () => {
    const witness = newSigner('witness.example/w1');
    const cosigned = `${body}\n${signatureLine(witness, body)}${signatureLine(signer, body)}`;
    expect(verifyNote(cosigned, signer.vkey).ok).toBe(true);
    expect(verifyNote(cosigned, witness.vkey).ok).toBe(true);
  });

  it('refuses a modified body', () => {
    const tampered = note.replace('\n42\n', '\n43\n');
    expect(verifyNote(tampered, signer.vkey)).toEqual({
      ok: false,
      problem: 'the Ed25519 signature by nexus.local/ledger does not verify',
    });
    expect(verifyNote(note.replace('nexus.local/ledger/2b', 'nexus.local/ledger/3b'), signer.vkey).ok).toBe(false);
  });

  it('refuses a signature under another key name or key id, and another key', () => {
    const wrongName = `${body}\n${signatureLine(signer, body, 'nexus.local/other')}`;
    expect(verifyNote(wrongName, signer.vkey)).toMatchObject({ ok: false, problem: /no signature by/ });
    const id = Buffer.from(signer.id);
    id[3] ^= 0x80;
    expect(verifyNote(`${body}\n${signatureLine(signer, body, signer.name, id)}`, signer.vkey).ok).toBe(false);
    const impostor = newSigner('nexus.local/ledger');
    expect(verifyNote(note, impostor.vkey).ok).toBe(false);
    // The impostor's signature under the real key's name and id is refused by the real key.
    const forged = `${body}\n${signatureLine(impostor, body, signer.name, signer.id)}`;
    expect(verifyNote(forged, signer.vkey)).toMatchObject({ ok: false, problem: /does not verify/ });
  });

  it('refuses a bad signature among several of the same key', () => {
    const other = `${body.replace('42', '41')}`;
    const mixed = `${body}\n${signatureLine(signer, body)}${signatureLine(signer, other)}`;
    expect(verifyNote(mixed, signer.vkey).ok).toBe(false);
  });

  it('refuses malformed notes', () => {
    const line = signatureLine(signer, body);
    const bad = [
      `${body}${line}`, // no blank line
      `${body}\n${line.slice(0, -1)}`, // no final newline
      `${body}\n${line.replace('\u2014', '-')}`, // hyphen instead of em dash
      `${body}\n${line.replace(' ', '  ')}`,
      `${body}\n${line.slice(0, -3)}\n`, // truncated base64
      `${body}\n`, // no signatures
      `${body}\n${line}\n`,
    ];
    for (const text of bad) expect([text, verifyNote(text, signer.vkey).ok]).toEqual([text, false]);
  });
});

describe('checkpoints', () => {
  const signer = newSigner('nexus.local/ledger');

  it('parses origin, size and root hash of a verified checkpoint', () => {
    const result = verifyCheckpoint(`${body}\n${signatureLine(signer, body)}`, signer.vkey);
    expect(result).toMatchObject({
      ok: true,
      checkpoint: {
        origin: 'nexus.local/ledger/2b1f0d2e-8e55-4a7c-9d3e-7f1f3c1a0b11',
        treeSize: 42,
        root,
        rootHash: root.toString('base64'),
        extensions: [],
      },
    });
  });

  it('refuses checkpoint bodies that are not origin, decimal size and a base64 hash of 32 bytes', () => {
    const r = root.toString('base64');
    const bad = [
      `o\n042\n${r}\n`,
      `o\n-1\n${r}\n`,
      `o\n1.0\n${r}\n`,
      `o\n1\n${r.replace(/=$/, '')}\n`,
      `o\n1\n${root.subarray(0, 31).toString('base64')}\n`,
      `\n1\n${r}\n`,
      `o\n1\n`,
      `o\n99999999999999999999\n${r}\n`,
    ];
    for (const text of bad) expect(() => parseCheckpoint(text)).toThrow(NoteFormatError);
    const signedBad = `o\n1.0\n${r}\n`;
    expect(verifyCheckpoint(`${signedBad}\n${signatureLine(signer, signedBad)}`, signer.vkey).ok).toBe(false);
  });
});
