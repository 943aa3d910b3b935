import { domainToASCII } from 'node:url';
import { IdentityErrorCode, identityError } from '../identity.errors';

/**
 * One mailbox, as accounts store it: trimmed and lower case, `local@domain` with an RFC 5322 dot-atom local part
 * (ASCII letters, digits and !#$%&'*+/=?^_`{|}~- between single dots) and a domain of at least two DNS labels
 * (an internationalised domain is taken in either form and stored in its xn-- form). Nothing a mail header could
 * read as a second recipient, a display name, a group or a comment (`,` `;` `<` `"` `(` `:` spaces…) fits, so an
 * address is always exactly one.
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
  const domain = asciiDomain(email.slice(at + 1));
  const labels = domain.split('.');
  if (local.length > 64 || !LOCAL.test(local)) return null;
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || !TOP_LABEL.test(labels[labels.length - 1]))
    return null;
  const address = `${local}@${domain}`;
  return address.length > 254 ? null : address;
}

/** An internationalised domain in its xn-- form (IDNA/UTS #46); an ASCII one as given. Empty when it cannot be one. */
function asciiDomain(domain: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(domain)) return domain;
  // domainToASCII would decode %xx: no escapes in an address.
  return domain.includes('%') ? '' : domainToASCII(domain);
}

/** The rule addresses were stored under before every address was checked as above: trimmed, lower case, `x@y.zz`. */
const STORED_BEFORE = /^[^\s@]{1,64}@[^\s@]{1,253}\.[^\s@]{2,}$/;

/**
 * The address to look an account up by (sign-in, reset): as accounts store addresses now, else — for an account
 * stored under the earlier, looser rule (a non-ASCII local part, `_` in the domain, a trailing dot) — as that rule
 * stored it, so such accounts still sign in. Null when no account can have it. Mail never goes to what is typed.
 */
export function lookupEmail(raw: unknown): string | null {
  const email = emailOrNull(raw);
  if (email !== null || typeof raw !== 'string') return email;
  const stored = raw.trim().toLowerCase();
  return stored.length <= 254 && STORED_BEFORE.test(stored) ? stored : null;
}

/** Whether mail may go to an address an account holds: exactly one valid address as now stored (see emailOrNull). */
export function mailable(address: string | null | undefined): address is string {
  return typeof address === 'string' && emailOrNull(address) === address;
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
