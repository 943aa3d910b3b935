import type { EntityManager } from 'typeorm';
import { consumer, type EventConsumer } from '../../../kernel/contracts/events';
import { APP_ROLE } from '../../../kernel/db/roles';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { LedgerLog, PLATFORM_LOG } from '../log/log.service';
import { LEDGER_WRITTEN_EVENTS, entryFor, type LedgerWrittenEvent } from './ledger-writers.mapping';

/**
 * Other subgraphs write to the ledger only through events: each event of `LEDGER_WRITTEN_EVENTS` becomes
 * one entry of its tenant's log (its type, its payload without contact data, `sourceEventId` = the event id).
 *
 * The entry is appended in the transaction that marks the event processed (kernel/events.ts), so a
 * redelivered event adds nothing; an entry already carrying the event's id is a second guard. An event that
 * arrives after its tenant's log was purged (the platform log holds its tombstone) writes nothing: it would
 * open the log again.
 */
export function ledgerWriters(deps: SubgraphDeps): EventConsumer[] {
  const log = new LedgerLog(deps);
  return [
    consumer({
      name: 'ledger-writers',
      types: LEDGER_WRITTEN_EVENTS,
      handle: async (event, em) => {
        const tenantId = event.payload.tenantId;
        if (await purged(em, tenantId)) return;
        await scopeToTenant(em, tenantId);
        if (await alreadyWritten(em, tenantId, event)) return;
        await log.append(em, tenantId, [entryFor(event)]);
      },
    }),
  ];
}

/**
 * The consumer's transaction becomes what `withTenant` opens: the runtime role with the tenant set, so
 * row-level security confines the append to this tenant's log. Transaction-local settings only.
 */
async function scopeToTenant(em: EntityManager, tenantId: string): Promise<void> {
  await em.query(
    `SELECT set_config('role', $1, true), set_config('app.tenant_id', $2, true), set_config('app.user_id', '', true)`,
    [APP_ROLE, tenantId],
  );
}

/** True when the platform log holds the tombstone of this tenant's log (`log.purged`, written by the purge). */
async function purged(em: EntityManager, tenantId: string): Promise<boolean> {
  await scopeToTenant(em, PLATFORM_LOG);
  const rows: unknown[] = await em.query(
    `SELECT 1 FROM ledger.entries
      WHERE tenant_id = $1 AND type = 'log.purged' AND (data::jsonb #>> '{payload,log}') = $2 LIMIT 1`,
    [PLATFORM_LOG, tenantId],
  );
  return rows.length > 0;
}

async function alreadyWritten(em: EntityManager, tenantId: string, event: LedgerWrittenEvent): Promise<boolean> {
  const rows: unknown[] = await em.query(
    `SELECT 1 FROM ledger.entries WHERE tenant_id = $1 AND source_event_id = $2 LIMIT 1`,
    [tenantId, event.id],
  );
  return rows.length > 0;
}
