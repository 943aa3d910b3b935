import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { logger } from '../log';

const log = logger('db.lock');

/** Whether the server behind this connection is the embedded database (PGlite): one session for everyone. */
export async function isEmbedded(client: Client): Promise<boolean> {
  const { rows } = await client.query<{ embedded: boolean }>(`SELECT version() LIKE '%PGlite%' AS embedded`);
  return rows[0].embedded;
}

export interface DatabaseLockOptions {
  /**
   * How long an embedded-database lock outlives a holder that stopped renewing it. A holder that died on
   * this machine is noticed at once (the embedded database only listens on loopback, so every holder runs
   * here), and a restarted embedded database drops every lease: this only bounds a holder that hangs.
   * Long, because renewals wait behind the holder's own long transactions on the single session.
   */
  leaseMs?: number;
  /** How often a waiter tries again. */
  pollMs?: number;
  /** Log a warning each time a waiter has waited this much longer. */
  warnAfterMs?: number;
}

/**
 * Runs `fn` (given the lock's own connection) while holding a database-wide lock named `name`, so that processes sharing a database take
 * turns (migrations, bootstrap). On PostgreSQL a session advisory lock (released by the server if the
 * holder dies). The embedded database has one session for every connection, where advisory locks never
 * block: there a lease row in `public.nexus_locks` is claimed, renewed while `fn` runs and deleted after;
 * a holder whose process is gone loses it at once.
 */
export async function withDatabaseLock<T>(
  url: string,
  name: string,
  fn: (client: Client) => Promise<T>,
  options: DatabaseLockOptions = {},
): Promise<T> {
  const client = new Client({ connectionString: url, application_name: 'nexus-lock' });
  await client.connect();
  try {
    if (!(await isEmbedded(client))) {
      await client.query(`SELECT pg_advisory_lock(hashtext($1))`, [name]);
      try {
        return await fn(client);
      } finally {
        await client.query(`SELECT pg_advisory_unlock(hashtext($1))`, [name]).catch(() => undefined);
      }
    }
    return await withLease(client, name, fn, options);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A holder (`host:pid:nonce`) on this machine whose process no longer runs. */
function holderIsGone(holder: string): boolean {
  const [host, pid] = holder.split(':');
  if (host !== hostname() || !/^\d+$/.test(pid ?? '')) return false;
  return !runsNode(Number(pid));
}

/** Whether `pid` is a running Node.js process (a reused pid is not); on systems without /proc, whether it runs. */
export function runsNode(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node');
  } catch {
    return true;
  }
}

/** Run by the embedded database before it serves anyone: no holder of a lease from an earlier run is left. */
export const CLEAR_LEASES_SQL = `DO $$ BEGIN
  IF to_regclass('public.nexus_locks') IS NOT NULL THEN DELETE FROM public.nexus_locks; END IF;
END $$`;

async function withLease<T>(
  client: Client,
  name: string,
  fn: (client: Client) => Promise<T>,
  options: DatabaseLockOptions,
): Promise<T> {
  const leaseMs = options.leaseMs ?? 600_000;
  const pollMs = options.pollMs ?? 200;
  const warnAfterMs = options.warnAfterMs ?? 10_000;
  const holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  await client.query(
    `CREATE TABLE IF NOT EXISTS public.nexus_locks (name text PRIMARY KEY, holder text NOT NULL, expires_at timestamptz NOT NULL)`,
  );
  const started = Date.now();
  let nextWarning = started + warnAfterMs;
  for (;;) {
    const { rows } = await client.query<{ holder: string; expires_at: Date }>(
      `INSERT INTO public.nexus_locks AS l (name, holder, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3::float8 / 1000))
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
         WHERE l.expires_at < now() OR l.holder = EXCLUDED.holder
       RETURNING holder`,
      [name, holder, leaseMs],
    );
    if (rows.length > 0) break;
    const { rows: current } = await client.query<{ holder: string; expires_at: Date }>(
      `SELECT holder, expires_at FROM public.nexus_locks WHERE name = $1`,
      [name],
    );
    const other = current[0]?.holder;
    if (other && holderIsGone(other)) {
      log.warn({ lock: name, holder: other }, 'taking over a database lock whose holder has exited');
      await client.query(`DELETE FROM public.nexus_locks WHERE name = $1 AND holder = $2`, [name, other]);
      continue;
    }
    if (Date.now() >= nextWarning) {
      log.warn(
        { lock: name, waitedMs: Date.now() - started, holder: other, expiresAt: current[0]?.expires_at },
        'waiting for a database lock',
      );
      nextWarning = Date.now() + warnAfterMs;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  let renewal: Promise<unknown> = Promise.resolve();
  const renew = setInterval(
    () => {
      renewal = client
        .query(
          `UPDATE public.nexus_locks SET expires_at = now() + make_interval(secs => $3::float8 / 1000) WHERE name = $1 AND holder = $2`,
          [name, holder, leaseMs],
        )
        .catch((err) => log.warn({ err, lock: name }, 'could not renew a database lock'));
    },
    Math.max(1000, leaseMs / 3),
  );
  try {
    return await fn(client);
  } finally {
    clearInterval(renew);
    await renewal;
    await client
      .query(`DELETE FROM public.nexus_locks WHERE name = $1 AND holder = $2`, [name, holder])
      .catch(() => undefined);
  }
}
