import Redis from 'ioredis';
import { logger } from './log';

/** How long a starting process waits for Redis (`REDIS_URL`) to answer before it gives up and exits (REDIS_WAIT_MS). */
export const REDIS_WAIT_MS = 5_000;

const log = logger('redis');

/** Redis is configured but did not answer at start. The message names where, never the credentials. */
export class RedisUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisUnreachableError';
  }
}

/** `redis://host:port/db` of a Redis URL, without user or password: safe for logs and errors. */
export function redisLocation(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.length > 1 ? u.pathname : ''}`;
  } catch {
    return 'REDIS_URL (not a URL)';
  }
}

/** Why a connection failed, with any secret from the URL blanked out (whatever the client put in it). */
function reasonOf(err: unknown, url: string): string {
  let reason = err instanceof Error ? err.message : String(err);
  try {
    const { username, password } = new URL(url);
    for (const secret of [password, username].filter((s) => s.length > 0))
      reason = reason.split(decodeURIComponent(secret)).join('***');
  } catch {
    // not a URL: nothing to blank out
  }
  return reason;
}

/** The database a Redis URL names (`redis://host:port/3` → 3; none → 0); NaN when it is not a number. */
function databaseOf(url: string): number {
  try {
    const path = new URL(url).pathname.replace(/^\//, '');
    return path === '' ? 0 : /^\d+$/.test(path) ? Number(path) : NaN;
  } catch {
    return 0;
  }
}

/**
 * Resolves once Redis answers PING and the URL's database can be selected; tries again every half second
 * for `waitMs` (Redis started in the same breath as the service), then throws RedisUnreachableError with
 * the first reason the connection gave (refused, timed out, TLS…). Every attempt is bounded, so a Redis
 * that accepts connections but never answers is given up on in time too. A database Redis does not have
 * (`/99` on a server with 16) fails at once: clients would otherwise quietly use database 0.
 */
export async function waitForRedis(url: string, waitMs = REDIS_WAIT_MS): Promise<void> {
  const location = redisLocation(url);
  const db = databaseOf(url);
  if (!Number.isInteger(db))
    throw new RedisUnreachableError(`Redis at ${location}: the path must be a database number`);
  const deadline = Date.now() + waitMs;
  let warned = false;
  for (;;) {
    const timeout = Math.max(250, Math.min(2_000, deadline - Date.now()));
    // Database 0 first: the one asked for is selected below, where a refusal can be told apart.
    const client = new Redis(url, {
      db: 0,
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      connectTimeout: timeout,
      commandTimeout: timeout,
    });
    // The first error the connection reports says why (ECONNREFUSED, ETIMEDOUT, a TLS failure…); what
    // connect() throws afterwards is often only "Connection is closed".
    let firstError: unknown;
    client.on('error', (err) => (firstError ??= err));
    let failure: unknown;
    let refusedDb: unknown;
    try {
      await client.connect();
      await client.ping();
      if (db !== 0) await client.select(db).catch((err: unknown) => (refusedDb = err));
    } catch (err) {
      failure = firstError ?? err;
    } finally {
      client.disconnect();
    }
    if (refusedDb !== undefined) {
      throw new RedisUnreachableError(`Redis at ${location} refused database ${db} (${reasonOf(refusedDb, url)})`);
    }
    if (failure === undefined) {
      if (warned) log.info({ redis: location }, 'Redis reachable');
      return;
    }
    const reason = reasonOf(failure, url);
    if (Date.now() >= deadline)
      throw new RedisUnreachableError(
        `Redis at ${location} is unreachable (${reason}); gave up after ${waitMs / 1000} s`,
      );
    if (!warned) log.warn({ redis: location, reason }, 'Redis not reachable yet: waiting for it');
    warned = true;
    await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
  }
}
