import { createHash } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import type { Config } from '../../../kernel/config';
import type { RequestContext } from '../../../kernel/context';
import { withNoTenant } from '../../../kernel/db/tenant-scope';
import { addressBucket } from '../../../kernel/http/client-address';
import { IdentityErrorCode, identityError } from '../identity.errors';

/**
 * Attempt limits, in fixed windows, counted in the database so every instance shares them. Limits are
 * per network address and per (account, address): a flood from one place is slowed down, while the
 * account's owner signing in from elsewhere is never locked out by someone else.
 */
export interface Limit {
  name: string;
  windowSeconds: number;
  max: number;
}

export const LIMITS = {
  loginPerIp: { name: 'login:ip', windowSeconds: 900, max: 100 },
  loginPerAccountAndIp: { name: 'login:account-ip', windowSeconds: 900, max: 10 },
  resetPerIp: { name: 'reset:ip', windowSeconds: 3600, max: 20 },
  registerPerIp: { name: 'register:ip', windowSeconds: 3600, max: 10 },
  /** Mails telling an address's owner that someone registered with it: a few an hour at most. */
  registerNoticePerAddress: { name: 'register:notice', windowSeconds: 3600, max: 3 },
  resetPerAccount: { name: 'reset:account', windowSeconds: 3600, max: 5 },
  secondFactorPerIp: { name: '2fa:ip', windowSeconds: 900, max: 50 },
  /** The password (and code) a signed-in account gives to change it or turn off its second factor, per session… */
  passwordCheckPerSession: { name: 'password-check:session', windowSeconds: 900, max: 10 },
  /** …and per account, from all its sessions together (PASSWORD_CHECKS_ACCOUNT_FACTOR times the per-session limit). */
  passwordCheckPerAccount: { name: 'password-check:account', windowSeconds: 900, max: 30 },
} satisfies Record<string, Limit>;

/** How many sessions' worth of password checks an account has in all (see throttlePasswordCheck). */
export const PASSWORD_CHECKS_ACCOUNT_FACTOR = 3;

function bucket(limit: Limit, parts: string[]): string {
  // Hashed: the counters hold no addresses or e-mails in clear.
  return `${limit.name}:${createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 32)}`;
}

/** SQL counting one attempt per limit, with its parameters at $first…$first+2 (see `attemptParams`): yields `wait`. */
export function attemptsSql(first: number): string {
  return `SELECT coalesce(max(identity.count_attempt(c.bucket, c.window_seconds, c.max_hits)), 0) AS wait
            FROM unnest($${first}::text[], $${first + 1}::int[], $${first + 2}::int[]) AS c(bucket, window_seconds, max_hits)`;
}

export function attemptParams(checks: [Limit, ...string[]][]): [string[], number[], number[]] {
  return [
    checks.map(([limit, ...parts]) => bucket(limit, parts)),
    checks.map(([l]) => l.windowSeconds),
    checks.map(([l]) => l.max),
  ];
}

/** Counts one attempt against each limit in the caller's transaction; seconds to wait (0: allowed). */
export async function countAttempts(em: EntityManager, checks: [Limit, ...string[]][]): Promise<number> {
  const rows: { wait: number }[] = await em.query(attemptsSql(1), attemptParams(checks));
  return rows[0]?.wait ?? 0;
}

export function tooManyAttempts(wait: number): Error {
  return identityError(IdentityErrorCode.TOO_MANY_ATTEMPTS, `Too many attempts; try again in ${wait} seconds`);
}

/** Counts one attempt against each limit; throws TOO_MANY_ATTEMPTS past any. */
export async function throttle(ds: DataSource, checks: [Limit, ...string[]][]): Promise<void> {
  const wait = await withNoTenant(ds, (em) => countAttempts(em, checks));
  if (wait > 0) throw tooManyAttempts(wait);
}

/** The client address as throttles count it (an IPv6 address by its /64 network: kernel/http/client-address.ts). */
export function clientIp(ctx: RequestContext): string {
  const ip = ctx.client?.ip;
  return ip ? addressBucket(ip) : 'unknown';
}

/**
 * Counts one check of a signed-in account's own password (changePassword, disableTotp): against the sign-in counter of
 * the client address, against the session whatever the address (LOGIN_ATTEMPTS_PER_ACCOUNT_IP), and against the
 * account from all its sessions (PASSWORD_CHECKS_ACCOUNT_FACTOR times that). A stolen access token, used from any
 * number of addresses, is then no faster a password oracle than signing in, and whoever holds one session cannot keep
 * the owner's other sessions from changing the password; only by opening more sessions can they reach the account's
 * limit, which signing out everywhere (or a reset) clears with those sessions. Throws TOO_MANY_ATTEMPTS past any.
 */
export function throttlePasswordCheck(ds: DataSource, config: Config, ctx: RequestContext): Promise<void> {
  const perSession = config.auth.LOGIN_ATTEMPTS_PER_ACCOUNT_IP;
  return throttle(ds, [
    [{ ...LIMITS.loginPerIp, max: config.auth.LOGIN_ATTEMPTS_PER_IP }, clientIp(ctx)],
    [{ ...LIMITS.passwordCheckPerSession, max: perSession }, ctx.sessionId ?? ctx.userId ?? ''],
    [{ ...LIMITS.passwordCheckPerAccount, max: perSession * PASSWORD_CHECKS_ACCOUNT_FACTOR }, ctx.userId ?? ''],
  ]);
}

/** Forgets the account's count of password checks, in the caller's transaction: all its sessions just ended. */
export async function forgetPasswordChecks(em: EntityManager, userId: string): Promise<void> {
  await em.query(`SELECT identity.forget_attempts($1)`, [[bucket(LIMITS.passwordCheckPerAccount, [userId])]]);
}
