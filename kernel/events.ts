import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { logger } from './log';
import { withSystem } from './db/tenant-scope';
import { returningRows } from './db/values';
import { APP_ROLE } from './db/roles';
import {
  EVENT_SCHEMAS,
  MalformedEventError,
  parseEvent,
  type DomainEvent,
  type EventConsumer,
  type EventPayloadInput,
  type EventType,
} from './contracts/events';

export {
  TENANT_EXPORT_PART_EVENT,
  TENANT_EXPORT_REQUESTED_EVENT,
  TENANT_PURGED_EVENT,
  consumer,
  type DomainEvent,
  type EventConsumer,
  type EventOf,
  type EventPayload,
  type EventType,
} from './contracts/events';

/** Transport between the outbox relays and the consumers (see event-bus.ts). */
export interface EventBus {
  publish(event: DomainEvent): Promise<void>;
  subscribe(group: string, types: string[], deliver: (event: DomainEvent) => Promise<void>): void;
  /** Resolves true once every interested consumer group has processed these events. */
  waitConsumed(eventIds: string[], timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Writes an event in the caller's transaction: it is published if and only if the change commits. The
 * payload is checked against its type's schema first, so a producer that breaks the contract fails in
 * its own transaction rather than in every consumer.
 */
export async function recordEvent<T extends EventType>(
  em: EntityManager,
  schema: string,
  event: { type: T; tenantId: string | null; payload: EventPayloadInput<T> },
): Promise<string> {
  const payload: unknown = EVENT_SCHEMAS[event.type].parse(event.payload);
  const id = randomUUID();
  await em.query(`INSERT INTO "${schema}".outbox (id, tenant_id, type, payload) VALUES ($1, $2, $3, $4)`, [
    id,
    event.tenantId,
    event.type,
    JSON.stringify(payload),
  ]);
  return id;
}

interface OutboxRow {
  id: string;
  tenant_id: string | null;
  type: string;
  payload: Record<string, unknown>;
  created_at: Date;
  attempts: number;
}

/**
 * Moves committed outbox rows to the bus. Rows are claimed with a lease (several instances may run),
 * published outside any transaction, then marked published; a failure leaves the row for a later try.
 */
export class OutboxRelay {
  private timer?: NodeJS.Timeout;
  private running: Promise<number> | null = null;
  private readonly log = logger('events.relay');

  constructor(
    private readonly ds: DataSource,
    private readonly schema: string,
    private readonly bus: EventBus,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.timer = setInterval(
      () => void this.flush().catch((err) => this.log.error({ err }, 'relay failed')),
      this.intervalMs,
    );
    this.timer.unref();
  }

  /**
   * Publishes now and waits until every consumer of these events has handled them, so a command can
   * answer with its consequences in place. False when they are still pending after `timeoutMs`, or when
   * the bus cannot be reached: never throws, the events are committed and a later pass publishes them.
   */
  async deliverNow(eventIds: string[], timeoutMs = 10_000): Promise<boolean> {
    try {
      await this.flush();
      const done = await this.bus.waitConsumed(eventIds, timeoutMs);
      if (!done) this.log.warn({ eventIds }, 'events still being consumed');
      return done;
    } catch (err) {
      this.log.warn({ err, eventIds }, 'could not deliver events now; the relay publishes them later');
      return false;
    }
  }

  /** Publishes everything committed before this call (passes run one after another). */
  flush(): Promise<number> {
    const next = (this.running ?? Promise.resolve(0)).catch(() => 0).then(() => this.pass());
    this.running = next;
    void next
      .finally(() => {
        if (this.running === next) this.running = null;
      })
      .catch(() => undefined);
    return next;
  }

  private async pass(): Promise<number> {
    const rows: OutboxRow[] = await withSystem(
      this.ds,
      'outbox relay',
      (em) =>
        em.query(
          `UPDATE "${this.schema}".outbox SET lease_until = now() + interval '30 seconds', attempts = attempts + 1
          WHERE id IN (SELECT id FROM "${this.schema}".outbox
                        WHERE published_at IS NULL AND (lease_until IS NULL OR lease_until < now())
                        ORDER BY created_at LIMIT 100 FOR UPDATE SKIP LOCKED)
          RETURNING id, tenant_id, type, payload, created_at, attempts`,
        ),
      'debug',
    ).then((r) => returningRows<OutboxRow>(r));
    let published = 0;
    for (const row of rows.sort((a, b) => a.created_at.getTime() - b.created_at.getTime())) {
      const event: DomainEvent = {
        id: row.id,
        type: row.type,
        tenantId: row.tenant_id,
        payload: row.payload,
        occurredAt: row.created_at.toISOString(),
        source: this.schema,
      };
      try {
        await this.bus.publish(event);
        await withSystem(
          this.ds,
          'outbox relay',
          (em) =>
            em.query(`UPDATE "${this.schema}".outbox SET published_at = now(), lease_until = NULL WHERE id = $1`, [
              row.id,
            ]),
          'debug',
        );
        published++;
      } catch (err) {
        this.log.warn({ err, eventId: row.id, attempts: row.attempts }, 'publish failed; will retry');
        await withSystem(this.ds, 'outbox relay', (em) =>
          em.query(
            `UPDATE "${this.schema}".outbox SET lease_until = now() + make_interval(secs => least(300, power(2, $2)::int)) WHERE id = $1`,
            [row.id, row.attempts],
          ),
        );
      }
    }
    return published;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush().catch(() => 0);
  }
}

/**
 * Subscribes a subgraph's consumers to the bus. Each event is handled at most once per consumer: the
 * handler runs in the same transaction that records the event id in `processed_events`. A payload its
 * type's schema refuses never reaches the handler: the delivery fails like a failing handler (retried,
 * then moved to the dead letters, `npm run dead-letters`).
 */
export function attachConsumers(ds: DataSource, schema: string, bus: EventBus, consumers: EventConsumer[]): void {
  const log = logger(`events.${schema}`);
  for (const consumer of consumers) {
    const group = `${schema}.${consumer.name}`;
    const types: readonly string[] = consumer.types;
    const checked = (raw: DomainEvent) => {
      try {
        if (!types.includes(raw.type)) throw new MalformedEventError(raw.id, raw.type, 'not a type of this consumer');
        return parseEvent(raw);
      } catch (err) {
        log.error(
          { err, consumer: consumer.name, eventId: raw.id, type: raw.type, source: raw.source },
          'event refused: its payload does not match the schema of its type',
        );
        throw err;
      }
    };
    bus.subscribe(group, [...types], async (raw) => {
      const event = checked(raw);
      await withSystem(ds, `consume ${event.type}`, async (em) => {
        const inserted: unknown[] = await em.query(
          `INSERT INTO "${schema}".processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING event_id`,
          [consumer.name, event.id],
        );
        if (inserted.length === 0) return;
        await consumer.handle(event, em);
        log.debug({ consumer: consumer.name, eventId: event.id, type: event.type }, 'event handled');
      });
    });
  }
}

/** DDL every subgraph's first migration uses for its outbox and idempotency tables. */
export function eventTablesSql(schema: string): string[] {
  return [
    `CREATE TABLE "${schema}".outbox (
       id uuid PRIMARY KEY,
       tenant_id uuid,
       type text NOT NULL,
       payload jsonb NOT NULL,
       created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
       published_at timestamptz,
       lease_until timestamptz,
       attempts int NOT NULL DEFAULT 0)`,
    `CREATE INDEX outbox_unpublished_idx ON "${schema}".outbox (created_at) WHERE published_at IS NULL`,
    `ALTER TABLE "${schema}".outbox ENABLE ROW LEVEL SECURITY`,
    `ALTER TABLE "${schema}".outbox FORCE ROW LEVEL SECURITY`,
    `CREATE POLICY outbox_write_own_tenant ON "${schema}".outbox FOR INSERT
       WITH CHECK (tenant_id IS NOT DISTINCT FROM nullif(current_setting('app.tenant_id', true), '')::uuid)`,
    // The runtime role may append events but never read or change the outbox.
    `GRANT INSERT ON "${schema}".outbox TO ${APP_ROLE}`,
    `CREATE TABLE "${schema}".processed_events (
       consumer text NOT NULL,
       event_id uuid NOT NULL,
       processed_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (consumer, event_id))`,
  ];
}
