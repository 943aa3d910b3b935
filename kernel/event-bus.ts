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
export class PostgresEventBus implements EventBus {
  private readonly pool: Pool;
  private readonly subs: Subscription[] = [];
  private readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly log = logger('events.bus');
  private closed = false;

  constructor(url: string, private readonly pollMs = 500) {
    this.pool = new Pool({ connectionString: url, max: 3, application_name: 'nexus-bus' });
  }

  /**
   * Every statement runs in its own explicit transaction: the embedded database multiplexes connections
   * per transaction, so bare extended-protocol statements from two connections could interleave.
   */
  private async query<R extends QueryResultRow = QueryResultRow>(sql: string, params: unknown[]): Promise<QueryResult<R>> {
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
    void this
      .query(
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
        `UPDATE nexus_bus.consumer_groups SET lease_owner = $2, lease_until = now() + interval '30 seconds'
          WHERE name = $1 AND (lease_owner = $2 OR lease_until IS NULL OR lease_until < now())
          RETURNING position`,
        [sub.group, this.owner],
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
          this.log.warn({ err, group: sub.group, eventId: event.id, failures: sub.failures }, 'delivery failed; will retry');
          await this.query(
            `UPDATE nexus_bus.consumer_groups SET failures = failures + 1, last_error = $3 WHERE name = $1 AND lease_owner = $2`,
            [sub.group, this.owner, String((err as Error)?.message ?? err).slice(0, 500)],
          );
          return;
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
    while (this.subs.some((s) => s.running)) await new Promise((r) => setTimeout(r, 10));
    await this
      .query(`UPDATE nexus_bus.consumer_groups SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1`, [this.owner])
      .catch(() => undefined);
    await this.pool.end();
  }
}
