import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { JobHandler } from '../../../kernel/contracts/jobs';
import { enterTenantScope, leaveTenantScope } from '../../../kernel/db/tenant-scope';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { LedgerLog, skipPurged } from '../log/log.service';
import { Transfer, TransferKind } from './transfer.entity';
import { resolutionHash } from './transfer.rules';
import { TRANSFER_EXPIRY_JOB, resolvePending } from './transfer.writer';

/**
 * Job: a pending transfer's timeout is over. Writes its `expire` transfer, releasing the pending amounts, unless
 * it was posted or voided first (then nothing: the job is idempotent).
 */
export function transferExpiryJob(deps: SubgraphDeps): JobHandler<typeof TRANSFER_EXPIRY_JOB> {
  const log = new LedgerLog(deps);
  return async ({ tenantId, transferId }, em) => {
    // The runner's transaction is the schema owner's: do the tenant's work as the runtime role, confined to the
    // tenant by row-level security, then hand the transaction back (the runner marks the job done as the owner).
    await enterTenantScope(em, tenantId);
    await expirePending(em, log, tenantId, transferId).catch(skipPurged);
    await leaveTenantScope(em);
  };
}

async function expirePending(em: EntityManager, log: LedgerLog, tenantId: string, id: string): Promise<void> {
  await log.lock(em, tenantId);
  const pending = await em.findOneBy(Transfer, { tenantId, id, kind: TransferKind.PENDING });
  // Gone with its tenant, or never had a timeout.
  if (!pending?.expiresAt) return;
  // Posted or voided first (or expired by an earlier run).
  if (await em.existsBy(Transfer, { tenantId, pendingId: id })) return;
  const now = await log.transactionTime(em, tenantId);
  if (pending.expiresAt.getTime() > now.getTime())
    throw new Error(`pending transfer ${id} is not due until ${pending.expiresAt.toISOString()}`);
  await expireNow(em, log, tenantId, pending, now);
}

/** Writes the expire row of an unresolved pending transfer past its timeout (the caller holds the log's lock). */
export function expireNow(em: EntityManager, log: LedgerLog, tenantId: string, pending: Transfer, now: Date) {
  return resolvePending(em, log, tenantId, {
    id: randomUUID(),
    kind: TransferKind.EXPIRE,
    pending,
    amount: BigInt(pending.amount),
    requestHash: resolutionHash(TransferKind.EXPIRE, pending.id, null),
    now,
  });
}
