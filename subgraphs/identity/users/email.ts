import { IdentityErrorCode, identityError } from '../identity.errors';

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,253}\.[^\s@]{2,}$/;

/** An address as accounts store it (trimmed, lower case); INVALID_EMAIL when it cannot be one. */
export function normaliseEmail(raw: unknown): string {
  const email = (typeof raw === 'string' ? raw : '').trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) throw identityError(IdentityErrorCode.INVALID_EMAIL);
  return email;
}
