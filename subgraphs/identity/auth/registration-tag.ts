import { createHmac } from 'node:crypto';
import { dataKey, type PlatformKeys } from '../../../kernel/keys';

const keysSeen = new WeakMap<PlatformKeys, Buffer>();

/**
 * A keyed 16-bit tag of an address and a password. An account made by a registration that named an address
 * another account holds keeps the tag of its own password: signing in with that address computes the tag of the
 * password given and so knows which one account's password to check — one check, as for any other sign-in, so
 * the time taken never tells whether the address had an account before. Sixteen bits pick an account without
 * giving away the password: without the data key the tag cannot be computed at all, and with it each tag still
 * fits one password in 65,536.
 */
export function registrationTag(keys: PlatformKeys, email: string, password: string): number {
  let key = keysSeen.get(keys);
  if (!key) {
    key = createHmac('sha256', dataKey(keys)).update('identity.registration-tag').digest();
    keysSeen.set(keys, key);
  }
  return createHmac('sha256', key).update(`${email}\u0000${password}`).digest().readUInt16BE(0);
}
