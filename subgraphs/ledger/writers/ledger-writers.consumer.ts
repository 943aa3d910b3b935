import type { EntityManager } from 'typeorm';
import { consumer, type EventConsumer } from '../../../kernel/contracts/events';
import { enterTenantScope } from '../../../kernel/db/tenant-scope';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { LedgerLog, skipPurged } from '../log/log.service';
import { bookBillingEvent, isBillingEvent } from './billing-transfers';
import { LEDGER_WRITTEN_EVENTS, entryFor, type LedgerWrittenEvent } from './ledger-writers.mapping';

/**
 * Other subgraphs write to the ledger only through events: each event of `LEDGER_WRITTEN_EVENTS` becomes
 * one entry of its tenant's log (its type, its payload without contact data, `sourceEventId` = the event id).
 *
 * The entry is appended in the transaction that marks the event processed (kernel/events.ts), so a
 * redelivered event adds nothing; an entry already carrying the event's id is a second guard. An event that
 * arrives after its tenant's log was purged writes nothing (the log is never opened again: LOG_PURGED).
 *
 * The tenant's platform billing events are also booked as transfers of its ledger, in the same transaction and
 * after the event's entry (billing-transfers.ts).
 */
export function ledgerWriters(deps: SubgraphDeps): EventConsumer[] {
  const log = new LedgerLog(deps);
  return [
    consumer({
      name: 'ledger-writers',
      types: LEDGER_WRITTEN_EVENTS,
      handle: async (event, em) => {
        const tenantId = event.payload.tenantId;
        await enterTenantScope(em, tenantId);
        if (await alreadyWritten(em, tenantId, event)) return;
        // The log's lock first (a purged log is never opened again: nothing to write).
        if ((await log.lock(em, tenantId).catch(skipPurged)) === undefined) return;
        await log.append(em, tenantId, [entryFor(event)]);
        if (isBillingEvent(event)) await bookBillingEvent(em, log, event);
      },
    }),
  ];
}

async function alreadyWritten(em: EntityManager, tenantId: string, event: LedgerWrittenEvent): Promise<boolean> {
  const rows: unknown[] = await em.query(
    `SELECT 1 FROM ledger.entries WHERE tenant_id = $1 AND source_event_id = $2 LIMIT 1`,
    [tenantId, event.id],
  );
  return rows.length > 0;
}
