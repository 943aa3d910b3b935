import type { EntityManager } from 'typeorm';
import type { JobHandler } from '../../../kernel/contracts/jobs';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { LedgerLog, PLATFORM_LOG, skipPurged } from './log.service';

/** Job: T seconds after the first entry no checkpoint covered, sign one (if none was made meanwhile). */
export function checkpointJob(deps: SubgraphDeps): JobHandler<'ledger-checkpoint'> {
  const log = new LedgerLog(deps);
  return async ({ logId }, em) => {
    await log.asLog(em, logId, () => log.checkpoint(em, logId)).catch(skipPurged);
  };
}

/**
 * Before a purged tenant's rows go: a last checkpoint of its log (witnessed), then a tombstone in the platform log
 * naming it, then the rows themselves through ledger.purge_tenant, the one function the history triggers let delete.
 */
export function purgeTenantLog(deps: SubgraphDeps): (em: EntityManager, tenantId: string) => Promise<void> {
  const log = new LedgerLog(deps);
  return async (em, tenantId) => {
    await log.asLog(em, tenantId, async () => {
      await log.checkpoint(em, tenantId);
      const [last] = await em.query(
        `SELECT size, root FROM ledger.checkpoints WHERE tenant_id = $1 ORDER BY size DESC LIMIT 1`,
        [tenantId],
      );
      await log.asLog(em, PLATFORM_LOG, () =>
        log.append(em, PLATFORM_LOG, [
          {
            type: 'log.purged',
            payload: {
              log: tenantId,
              origin: log.origin(tenantId),
              treeSize: last ? Number(last.size) : 0,
              rootHash: last ? (last.root as Buffer).toString('base64') : null,
            },
          },
        ]),
      );
    });
    await em.query(`SELECT ledger.purge_tenant($1)`, [tenantId]);
  };
}
