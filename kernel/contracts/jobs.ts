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
  /** commerce: sync a platform plan to the payment provider (products, prices, meters); safe to re-run. */
  'billing-plan-sync': z.object({ planId: z.string().min(1) }),
  /** commerce: send the tenant's metered usage not yet reported to the payment provider. */
  'billing-usage-report': z.object({ tenantId: z.uuid() }),
  /** commerce: set the subscription's seat quantity to the tenant's member count. */
  'billing-seat-sync': z.object({ tenantId: z.uuid() }),
  /** commerce: an unpaid invoice's next dunning step (reminder mail, or the end of the grace period). */
  'billing-dunning': z.object({ tenantId: z.uuid(), invoiceId: z.string().min(1), step: z.number().int().min(0) }),
  /** commerce: a billing e-mail to the tenant's billing contact (sent once the change that wrote it commits). */
  'billing-mail': z.object({ tenantId: z.uuid(), to: z.email(), subject: z.string().min(1), text: z.string().min(1) }),
  /** commerce: the tenant was deleted; its subscription ends with the current period (no renewal is charged). */
  'billing-tenant-deleted': z.object({ tenantId: z.uuid() }),
  /** commerce (built-in invoicer): the subscription's period ends; invoice it and start the next one. */
  'billing-period-end': z.object({ tenantId: z.uuid(), periodEnd: z.iso.datetime() }),
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
