import { IdentityErrorCode, identityError } from '../identity.errors';
import { COMMON_PASSWORDS } from './common-passwords';

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;
/** A new password may not repeat any of the account's last N. */
export const PASSWORD_HISTORY = 5;

const common = new Set(COMMON_PASSWORDS);

/** Throws WEAK_PASSWORD with the reason when a password may not be used (`minLength`: a tenant's stricter rule). */
export function checkPasswordPolicy(
  password: unknown,
  email?: string,
  minLength = PASSWORD_MIN,
): asserts password is string {
  if (typeof password !== 'string' || password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw identityError(IdentityErrorCode.WEAK_PASSWORD);
  }
  if (password.length < minLength) {
    throw identityError(IdentityErrorCode.WEAK_PASSWORD, `Your organisation requires at least ${minLength} characters`);
  }
  const lowered = password.toLowerCase();
  if (common.has(lowered)) {
    throw identityError(IdentityErrorCode.WEAK_PASSWORD, 'This password is too common; choose another');
  }
  if (email && (lowered === email.toLowerCase() || lowered === email.split('@')[0].toLowerCase())) {
    throw identityError(IdentityErrorCode.WEAK_PASSWORD, 'The password may not be your email address');
  }
}

/** The longest minimum among the account's tenants (and `tenantId`, e.g. the one inviting it). */
export async function requiredPasswordLength(
  em: { query(sql: string, params: unknown[]): Promise<unknown> },
  userId: string | null,
  tenantId: string | null,
): Promise<number> {
  const [row] = (await em.query(`SELECT identity.password_min_length($1, $2) AS n`, [userId, tenantId])) as {
    n: number;
  }[];
  return row?.n ?? PASSWORD_MIN;
}
