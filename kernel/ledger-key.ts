import { createHash, type KeyObject } from 'node:crypto';

/**
 * The ledger's checkpoint key as C2SP signed notes name it (Ed25519, signature type 0x01): the key id and the
 * verifier key a client is given. The ledger signs with it; the gateway publishes it.
 */
export interface NoteKey {
  name: string;
  privateKey?: KeyObject;
  publicKey: KeyObject;
}

const ED25519 = 0x01;

export function rawPublicKey(key: KeyObject): Buffer {
  return Buffer.from(key.export({ format: 'jwk' }).x!, 'base64url');
}

/** First 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key). */
export function noteKeyId(key: NoteKey): Buffer {
  return createHash('sha256')
    .update(Buffer.from(`${key.name}\n`, 'utf8'))
    .update(Buffer.from([ED25519]))
    .update(rawPublicKey(key.publicKey))
    .digest()
    .subarray(0, 4);
}

/** `<name>+<hex key id>+<base64(0x01 ‖ public key)>`. */
export function verifierKey(key: NoteKey): string {
  const material = Buffer.concat([Buffer.from([ED25519]), rawPublicKey(key.publicKey)]);
  return `${key.name}+${noteKeyId(key).toString('hex')}+${material.toString('base64')}`;
}
