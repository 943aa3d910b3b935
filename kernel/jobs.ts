import type { DataSource, EntityManager } from 'typeorm';
import { z } from 'zod';
import { APP_ROLE } from './db/roles';
import { withSystem } from './db/tenant-scope';
import { returningRows } from './db/values';
import { logger } from './log';
import {
  JOB_SCHEMAS,
  isJobName,
  type JobHandler,
  type JobHandlers,
  type JobName,
  type JobPayload,
} from './contracts/jobs';

const log = logger('jobs');
const MAX_ATTEMPTS = 10;
const LEASE_SECONDS = 60;

/** A subgraph's durable job table: jobs survive restarts and run once across all instances. */
export function jobTablesSql(schema: string): string[] {
  return [
    `CREATE TABLE "${schema}".jobs (
       id uuid PRIMARY KEY,
       name text NOT NULL,
       key text NOT NULL UNIQUE,
       payload jsonb NOT NULL,
       run_at timestamptz NOT NULL,
       attempts int NOT NULL DEFAULT 0,
       lease_until timestamptz,
       last_error text,
       done_at timestamptz,
       failed_at timestamptz,
       created_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE INDEX jobs_due_idx ON "${schema}".jobs (run_at) WHERE done_at IS NULL AND failed_at IS NULL`,
    // Only the job runner (the schema owner) reads or writes jobs; services schedule through scheduleJob.
    `ALTER TABLE "${schema}".jobs ENABLE ROW LEVEL SECURITY`,
    `ALTER TABLE "${schema}".jobs FORCE ROW LEVEL SECURITY`,
    `CREATE FUNCTION "${schema}".schedule_job(p_name text, p_key text, p_payload jsonb, p_run_at timestamptz) RETURNS void
       LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
       AS $$ INSERT INTO "${schema}".jobs (id, name, key, payload, run_at) VALUES (gen_random_uuid(), p_name, p_key, p_payload, p_run_at)
             ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, payload = EXCLUDED.payload, run_at = EXCLUDED.run_at,
                    attempts = 0, lease_until = NULL, last_error = NULL, done_at = NULL, failed_at = NULL $$`,
    `REVOKE ALL ON FUNCTION "${schema}".schedule_job(text, text, jsonb, timestamptz) FROM PUBLIC`,
    `GRANT EXECUTE ON FUNCTION "${schema}".schedule_job(text, text, jsonb, timestamptz) TO ${APP_ROLE}`,
  ];
}

/**
 * Schedules (or re-schedules: same key, new time and payload) a job in the caller's transaction, so it
 * exists exactly when the change that needs it commits.
 */
export async function scheduleJob<N extends JobName>(
  em: EntityManager,
  schema: string,
  job: { name: N; key: string; runAt: Date; payload: JobPayload<N> },
): Promise<void> {
  const payload = JOB_SCHEMAS[job.name].parse(job.payload);
  await em.query(`SELECT "${schema}".schedule_job($1, $2, $3, $4)`, [
    job.name,
    job.key,
    JSON.stringify(payload),
    job.runAt,
  ]);
}

interface DueJob {
  id: string;
  name: string;
  payload: Record<string, unknown>;
  attempts: number;
}

/** Runs due jobs: claimed under a lease (several instances never run one twice at once), retried with backoff. */
export class JobRunner {
  private timer?: NodeJS.Timeout;
  private running: Promise<void> | null = null;

  constructor(
    private readonly ds: DataSource,
    private readonly schema: string,
    private readonly handlers: JobHandlers,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.runDue(), this.intervalMs);
    this.timer.unref();
  }

  runDue(): Promise<void> {
    this.running ??= this.pass()
      .catch((err) => log.error({ err, schema: this.schema }, 'job runner failed'))
      .finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<void> {
    const due = await withSystem(
      this.ds,
      'jobs',
      async (em) =>
        returningRows<DueJob>(
          await em.query(
            `UPDATE "${this.schema}".jobs SET attempts = attempts + 1, lease_until = now() + make_interval(secs => $1)
              WHERE id IN (SELECT id FROM "${this.schema}".jobs
                            WHERE done_at IS NULL AND failed_at IS NULL AND run_at <= now() AND (lease_until IS NULL OR lease_until < now())
                            ORDER BY run_at LIMIT 20 FOR UPDATE SKIP LOCKED)
              RETURNING id, name, payload, attempts`,
            [LEASE_SECONDS],
          ),
        ),
      'debug',
    );
    for (const job of due) await this.run(job);
  }

  /** The job's handler and its payload as its schema reads it; throws (a failed attempt) when either is missing. */
  private prepare(job: DueJob): { handler: JobHandler<JobName>; payload: JobPayload<JobName> } {
    if (!isJobName(job.name)) throw new Error(`unknown job ${job.name}`);
    // The handler registered under this name takes this name's payload, which the schema below checks.
    const handler = this.handlers[job.name] as JobHandler<JobName> | undefined;
    if (!handler) throw new Error(`no handler for job ${job.name}`);
    const parsed = JOB_SCHEMAS[job.name].safeParse(job.payload);
    if (!parsed.success) throw new Error(`job ${job.name} does not match its schema: ${z.prettifyError(parsed.error)}`);
    return { handler, payload: parsed.data };
  }

  private async run(job: DueJob): Promise<void> {
    try {
      const { handler, payload } = this.prepare(job);
      const after = await withSystem(this.ds, `job ${job.name}`, async (em) => {
        const then = await handler(payload, em);
        await em.query(`UPDATE "${this.schema}".jobs SET done_at = now(), lease_until = NULL WHERE id = $1`, [job.id]);
        return then;
      });
      if (after) await after().catch((err) => log.error({ err, job: job.name }, 'job follow-up failed'));
    } catch (err) {
      const failed = job.attempts >= MAX_ATTEMPTS;
      log[failed ? 'error' : 'warn'](
        { err, job: job.name, jobId: job.id, attempts: job.attempts },
        failed ? 'job given up' : 'job failed; will retry',
      );
      await withSystem(
        this.ds,
        'job retry',
        (em) =>
          em.query(
            `UPDATE "${this.schema}".jobs SET last_error = $2, lease_until = NULL, failed_at = CASE WHEN $3 THEN now() END,
                    run_at = now() + make_interval(secs => least(3600, power(2, attempts)::int)) WHERE id = $1`,
            [job.id, String((err as Error)?.message ?? err).slice(0, 500), failed],
          ),
        'debug',
      );
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
