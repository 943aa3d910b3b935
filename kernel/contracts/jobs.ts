import type { EntityManager } from 'typeorm';
import { z } from 'zod';

/**
 * Every durable job (kernel/jobs.ts) with the schema of its payload. `scheduleJob` is checked by the compiler
 * and by the schema before the row is written; a runner hands its handler only a payload the schema accepted.
 * Names are stored in each subgraph's `jobs` table: renaming one strands the rows already scheduled.
 */
export const JOB_SCHEMAS = {
  /** tenancy: a tenant's trial is over, unless it was extended or the tenant left the trial meanwhile. */
  'trial-expiry': z.object({ tenantId: z.uuid() }),
  /** tenancy: a deleted tenant's grace period is over; every subgraph deletes its rows. */
  'purge-tenant': z.object({ tenantId: z.uuid() }),
  /** ledger: a pending transfer's timeout is over; its amounts are released unless it was posted or voided first. */
  // transferId is the client's: any 8-4-4-4-12 hex UUID, as createTransfers accepts (not only RFC 9562 versions).
  'ledger-transfer-expiry': z.object({
    tenantId: z.uuid(),
    transferId: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i),
  }),
  /** ledger: sign a checkpoint of a log some of whose entries no checkpoint covers yet (the platform log is the nil id). */
  'ledger-checkpoint': z.object({ logId: z.uuid() }),
} as const;

export type JobName = keyof typeof JOB_SCHEMAS;
export type JobPayload<N extends JobName> = z.output<(typeof JOB_SCHEMAS)[N]>;

/**
 * A job's work: runs in a transaction with the job's completion (it happens once, or is retried). It may
 * return what to do after that transaction commits (e.g. announce a change).
 */
export type JobHandler<N extends JobName> = (
  payload: JobPayload<N>,
  em: EntityManager,
) => Promise<void | (() => Promise<void>)>;

/** The jobs a subgraph runs, by name. */
export type JobHandlers = { [N in JobName]?: JobHandler<N> };

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(JOB_SCHEMAS, name);
}
