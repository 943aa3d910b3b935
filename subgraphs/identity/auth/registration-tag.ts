import { createHmac } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { withNoTenant } from '../../../kernel/db/tenant-scope';
import { dataKey, type PlatformKeys } from '../../../kernel/keys';
import { burnPasswordCheck, verifyPassword } from '../passwords/password-hash';

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

/*
 * The account holding an address always wins: no registration that named the address keeps a tag for the holder's
 * password, so that password signs in the holder and nobody else. Kept when a registration is made or changes its
 * password (`registrationTagFor`) and when the holder's password is set (`registrationsWithPassword`).
 */

/**
 * Whether an account holds `email`, and the tag a registration naming it keeps for `password`: null (no password
 * reaches that registration) when `password` is the holder's. Always one password check — against the holder's
 * hash, or a dummy one when nobody holds the address — so the time taken tells nothing either.
 */
export async function registrationTagFor(
  ds: DataSource,
  keys: PlatformKeys,
  email: string,
  password: string,
): Promise<{ held: boolean; tag: number | null }> {
  const [holder]: { password_hash: string }[] = await withNoTenant(ds, (em) =>
    em.query(`SELECT password_hash FROM identity.credentials_for_login($1)`, [email]),
  );
  if (!holder) {
    await burnPasswordCheck(password);
    return { held: false, tag: null };
  }
  return {
    held: true,
    tag: (await verifyPassword(holder.password_hash, password)) ? null : registrationTag(keys, email, password),
  };
}

/** Registrations naming `email` whose password is `password` (about to become the holder's): they must lose their tag. */
export async function registrationsWithPassword(
  ds: DataSource,
  keys: PlatformKeys,
  email: string,
  password: string,
): Promise<string[]> {
  const rows: { user_id: string; password_hash: string }[] = await withNoTenant(ds, (em) =>
    em.query(`SELECT user_id, password_hash FROM identity.registrations_naming($1, $2)`, [
      email,
      registrationTag(keys, email, password),
    ]),
  );
  const same: string[] = [];
  for (const row of rows) if (await verifyPassword(row.password_hash, password)) same.push(row.user_id);
  return same;
}

/** Takes the tag of these registrations of `email`, in the caller's transaction: no password reaches them any more. */
export async function unlinkRegistrations(em: EntityManager, email: string, userIds: string[]): Promise<void> {
  for (const id of userIds) await em.query(`SELECT identity.unlink_registration($1, $2)`, [id, email]);
}
