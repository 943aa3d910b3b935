import { IdentityErrorCode, identityError } from '../identity.errors';

/**
 * One mailbox, as accounts store it: trimmed and lower case, `local@domain` with an RFC 5322 dot-atom local part
 * (ASCII letters, digits and !#$%&'*+/=?^_`{|}~- between single dots) and a domain of at least two DNS labels
 * (internationalised domains in their xn-- form). Nothing a mail header could read as a second recipient, a
 * display name, a group or a comment (`,` `;` `<` `"` `(` `:` spaces…) fits, so an address is always exactly one.
 */
const LOCAL = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const TOP_LABEL = /^([a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;

/** The address as accounts store it, or null when `raw` is not exactly one valid address. */
export function emailOrNull(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const email = raw.trim().toLowerCase();
  if (email.length > 254) return null;
  const at = email.indexOf('@');
  if (at < 1 || at !== email.lastIndexOf('@')) return null;
  const local = email.slice(0, at);
  const labels = email.slice(at + 1).split('.');
  if (local.length > 64 || !LOCAL.test(local)) return null;
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || !TOP_LABEL.test(labels[labels.length - 1])) return null;
  return email;
}

/** The address as accounts store it; INVALID_EMAIL unless `raw` is exactly one valid address. */
export function normaliseEmail(raw: unknown): string {
  const email = emailOrNull(raw);
  if (email === null) throw identityError(IdentityErrorCode.INVALID_EMAIL);
  return email;
}

/**
 * The address an identity provider asserts: its claim or attribute may hold one value or several (a SAML
 * attribute with many values, a list claim); the first that is a valid address is taken, never a mix of them.
 * Null when none is.
 */
export function firstValidEmail(value: unknown): string | null {
  for (const candidate of Array.isArray(value) ? value : [value]) {
    const email = emailOrNull(candidate);
    if (email !== null) return email;
  }
  return null;
}
