import { randomUUID } from 'node:crypto';
import { Pool, type QueryResult, type QueryResultRow } from 'pg';
import type { DomainEvent, EventBus } from './events';
import { logger } from './log';

/** DDL of the bus, applied by the database bootstrap (idempotent). */
export const EVENT_BUS_SQL = [
  `CREATE SCHEMA IF NOT EXISTS nexus_bus`,
  `CREATE TABLE IF NOT EXISTS nexus_bus.events (
     seq bigserial PRIMARY KEY,
     id uuid NOT NULL UNIQUE,
     type text NOT NULL,
     tenant_id uuid,
     payload jsonb NOT NULL,
     source text NOT NULL,
     occurred_at timestamptz NOT NULL,
     tx xid8 NOT NULL DEFAULT pg_current_xact_id())`,
  `CREATE INDEX IF NOT EXISTS events_type_seq_idx ON nexus_bus.events (type, seq)`,
  `CREATE TABLE IF NOT EXISTS nexus_bus.dead_letters (
     id bigserial PRIMARY KEY,
     consumer_group text NOT NULL,
     event_id uuid NOT NULL,
     type text NOT NULL,
     tenant_id uuid,
     payload jsonb NOT NULL,
     attempts int NOT NULL,
     last_error text,
     failed_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE TABLE IF NOT EXISTS nexus_bus.consumer_groups (
     name text PRIMARY KEY,
     types text[] NOT NULL,
     position bigint NOT NULL DEFAULT 0,
     lease_owner text,
     lease_until timestamptz,
     failures int NOT NULL DEFAULT 0,
     last_error text)`,
];

interface Subscription {
  group: string;
  types: string[];
  deliver: (event: DomainEvent) => Promise<void>;
  timer?: NodeJS.Timeout;
  running: boolean;
  again: boolean;
  failures: number;
}

interface EventRow {
  seq: string;
  id: string;
  type: string;
  tenant_id: string | null;
  payload: Record<string, unknown>;
  source: string;
  occurred_at: Date;
}

/**
 * A durable bus in PostgreSQL shared by every service process: events are appended to one log table;
 * each consumer group keeps its position and holds a lease so one instance at a time delivers its
 * events, in order. A failed delivery is retried with backoff (the position does not move), so nothing
 * is lost across crashes or restarts; consumers are idempotent, so a redelivery is harmless.
 * Only events of committed transactions older than every running transaction are read, so a late
 * commit with a lower sequence number is never skipped.
 */
export interface EventBusOptions {
  /** How often idle consumers look for new events (they are also woken by local publishes). */
  pollMs?: number;
  /** How long a consumer instance holds its group; a crashed instance's events are redelivered after it. */
  leaseMs?: number;
  /** Failed deliveries of one event before it is moved to `nexus_bus.dead_letters` and skipped. */
  maxAttempts?: number;
}

export interface DeadLetter {
  consumerGroup: string;
  eventId: string;
  type: string;
  attempts: number;
  lastError: string | null;
  failedAt: Date;
}

export class PostgresEventBus implements EventBus {
  private readonly pool: Pool;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly maxAttempts: number;
  private readonly subs: Subscription[] = [];
  private readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly log = logger('events.bus');
  private closed = false;

  constructor(url: string, options: EventBusOptions = {}) {
    this.pool = new Pool({ connectionString: url, max: 3, application_name: 'nexus-bus' });
    // An idle connection the server closed (restart, failover) is replaced on next use.
    this.pool.on('error', (err) => this.log.warn({ err }, 'idle bus connection lost'));
    this.pollMs = options.pollMs ?? 500;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.maxAttempts = options.maxAttempts ?? 10;
  }

  /** Events given up on, newest first: for platform operators. */
  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    const { rows } = await this.query<{
      consumer_group: string;
      event_id: string;
      type: string;
      attempts: number;
      last_error: string | null;
      failed_at: Date;
    }>(
      `SELECT consumer_group, event_id, type, attempts, last_error, failed_at FROM nexus_bus.dead_letters ORDER BY id DESC LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({
      consumerGroup: r.consumer_group,
      eventId: r.event_id,
      type: r.type,
      attempts: r.attempts,
      lastError: r.last_error,
      failedAt: r.failed_at,
    }));
  }

  /**
   * Every statement runs in its own explicit transaction: the embedded database multiplexes connections
   * per transaction, so bare extended-protocol statements from two connections could interleave.
   */
  private async query<R extends QueryResultRow = QueryResultRow>(
    sql: string,
    params: unknown[],
  ): Promise<QueryResult<R>> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await client.query<R>(sql, params);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async publish(event: DomainEvent): Promise<void> {
    await this.query(
      `INSERT INTO nexus_bus.events (id, type, tenant_id, payload, source, occurred_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
      [event.id, event.type, event.tenantId, JSON.stringify(event.payload), event.source, event.occurredAt],
    );
    for (const sub of this.subs) if (sub.types.includes(event.type)) this.kick(sub);
  }

  subscribe(group: string, types: string[], deliver: (event: DomainEvent) => Promise<void>): void {
    const sub: Subscription = { group, types, deliver, running: false, again: false, failures: 0 };
    this.subs.push(sub);
    void this.query(
      `INSERT INTO nexus_bus.consumer_groups (name, types) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET types = EXCLUDED.types`,
      [group, types],
    )
      .then(() => this.kick(sub))
      .catch((err) => this.log.error({ err, group }, 'could not register consumer group'));
  }

  /**
   * Waits until every consumer group interested in these events has processed them (or the timeout
   * passes). Lets a command return only once its immediate consequences exist.
   */
  async waitConsumed(eventIds: string[], timeoutMs = 5000): Promise<boolean> {
    if (eventIds.length === 0) return true;
    const deadline = Date.now() + timeoutMs;
    for (const sub of this.subs) this.kick(sub);
    while (!this.closed) {
      const { rows } = await this.query(
        `SELECT count(*)::int AS pending FROM nexus_bus.events e
           JOIN nexus_bus.consumer_groups g ON e.type = ANY(g.types)
          WHERE e.id = ANY($1::uuid[]) AND g.position < e.seq`,
        [eventIds],
      );
      if (rows[0].pending === 0) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  private kick(sub: Subscription): void {
    if (this.closed) return;
    if (sub.running) {
      sub.again = true;
      return;
    }
    if (sub.timer) clearTimeout(sub.timer);
    sub.running = true;
    void this.drain(sub)
      .catch((err) => this.log.error({ err, group: sub.group }, 'consumer loop failed'))
      .finally(() => {
        sub.running = false;
        if (this.closed) return;
        const delay = sub.again ? 0 : sub.failures > 0 ? Math.min(30_000, 250 * 2 ** sub.failures) : this.pollMs;
        sub.again = false;
        sub.timer = setTimeout(() => this.kick(sub), delay);
        sub.timer.unref();
      });
  }

  /** Delivers everything available to one group while holding its lease. */
  private async drain(sub: Subscription): Promise<void> {
    for (;;) {
      const lease = await this.query(
        `UPDATE nexus_bus.consumer_groups SET lease_owner = $2, lease_until = now() + make_interval(secs => $3::float8 / 1000)
          WHERE name = $1 AND (lease_owner = $2 OR lease_until IS NULL OR lease_until < now())
          RETURNING position`,
        [sub.group, this.owner, this.leaseMs],
      );
      if (lease.rowCount === 0) return; // another instance delivers this group
      const position = lease.rows[0].position as string;
      const { rows } = await this.query<EventRow>(
        `SELECT seq, id, type, tenant_id, payload, source, occurred_at FROM nexus_bus.events
          WHERE seq > $1 AND type = ANY($2) AND tx < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY seq LIMIT 100`,
        [position, sub.types],
      );
      for (const row of rows) {
        const event: DomainEvent = {
          id: row.id,
          type: row.type,
          tenantId: row.tenant_id,
          payload: row.payload,
          source: row.source,
          occurredAt: row.occurred_at.toISOString(),
        };
        try {
          await sub.deliver(event);
        } catch (err) {
          sub.failures++;
          const message = String((err as Error)?.message ?? err).slice(0, 500);
          const { rows: state } = await this.query<{ failures: number }>(
            `UPDATE nexus_bus.consumer_groups SET failures = failures + 1, last_error = $3
              WHERE name = $1 AND lease_owner = $2 RETURNING failures`,
            [sub.group, this.owner, message],
          );
          const attempts = state[0]?.failures ?? sub.failures;
          if (attempts < this.maxAttempts) {
            this.log.warn({ err, group: sub.group, eventId: event.id, attempts }, 'delivery failed; will retry');
            return;
          }
          // Given up: park it where operators can see it, and move on.
          this.log.error({ err, group: sub.group, eventId: event.id, attempts }, 'event moved to dead letters');
          await this.query(
            `INSERT INTO nexus_bus.dead_letters (consumer_group, event_id, type, tenant_id, payload, attempts, last_error)
             VALUES ($1, $2, $3, $4, $5, $6, $7)`,
            [sub.group, event.id, event.type, event.tenantId, JSON.stringify(event.payload), attempts, message],
          );
        }
        sub.failures = 0;
        await this.query(
          `UPDATE nexus_bus.consumer_groups SET position = $3, failures = 0, last_error = NULL WHERE name = $1 AND lease_owner = $2`,
          [sub.group, this.owner, row.seq],
        );
      }
      if (rows.length < 100) return;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const sub of this.subs) if (sub.timer) clearTimeout(sub.timer);
    // Let a delivery in progress finish (bounded: a stuck handler's lease simply expires).
    const deadline = Date.now() + Math.min(5_000, this.leaseMs);
    while (this.subs.some((s) => s.running) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await this.query(
      `UPDATE nexus_bus.consumer_groups SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1`,
      [this.owner],
    ).catch(() => undefined);
    await this.pool.end();
  }
}
