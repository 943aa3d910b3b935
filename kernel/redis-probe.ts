import Redis from 'ioredis';
import { logger } from './log';

/** How long a starting process waits for Redis (`REDIS_URL`) to answer before it gives up and exits. */
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
    for (const secret of [password, username].filter((s) => s.length > 0)) reason = reason.split(decodeURIComponent(secret)).join('***');
  } catch {
    // not a URL: nothing to blank out
  }
  return reason;
}

/**
 * Resolves once Redis answers PING; tries again every half second for `waitMs` (Redis started in the same
 * breath as the service), then throws RedisUnreachableError. Every attempt is bounded, so a Redis that
 * accepts connections but never answers is given up on in time too.
 */
export async function waitForRedis(url: string, waitMs = REDIS_WAIT_MS): Promise<void> {
  const location = redisLocation(url);
  const deadline = Date.now() + waitMs;
  let warned = false;
  for (;;) {
    const timeout = Math.max(250, Math.min(2_000, deadline - Date.now()));
    const client = new Redis(url, {
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      connectTimeout: timeout,
      commandTimeout: timeout,
    });
    client.on('error', () => undefined); // reported below, once
    let failure: unknown;
    try {
      await client.connect();
      await client.ping();
    } catch (err) {
      failure = err;
    } finally {
      client.disconnect();
    }
    if (failure === undefined) {
      if (warned) log.info({ redis: location }, 'Redis reachable');
      return;
    }
    const reason = reasonOf(failure, url);
    if (Date.now() >= deadline) throw new RedisUnreachableError(`Redis at ${location} is unreachable (${reason}); gave up after ${waitMs / 1000} s`);
    if (!warned) log.warn({ redis: location, reason }, 'Redis not reachable yet: waiting for it');
    warned = true;
    await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
  }
}
