import type { EntityManager } from 'typeorm';
import { consumer, type EventConsumer } from '../../../kernel/contracts/events';
import { enterTenantScope } from '../../../kernel/db/tenant-scope';
import { scheduleJob } from '../../../kernel/jobs';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { METERED_METRICS, type MeteredMetric } from './billing.model';
import { billingOf } from './billing.runtime';
import { isPurged, loadAccount, saveAccount } from './billing.store';

const METERED = new Set<string>(METERED_METRICS);

/** Seats follow membership: the provider's seat quantity is updated shortly after a member joins or leaves. */
async function scheduleSeatSync(em: EntityManager, tenantId: string): Promise<void> {
  await scheduleJob(em, 'commerce', {
    name: 'billing-seat-sync',
    key: `billing-seat-sync:${tenantId}`,
    runAt: new Date(Date.now() + 2_000),
    payload: { tenantId },
  });
}

/**
 * What billing learns from other subgraphs: members (seats), tenancy's usage meters (metered prices), and the owner's
 * address at registration (the first billing contact).
 */
export function billingConsumers(deps: SubgraphDeps): EventConsumer[] {
  const { provider } = billingOf(deps);
  return [
    consumer({
      name: 'billing-members',
      types: ['identity.member_added', 'identity.member_removed', 'tenancy.tenant_created'],
      handle: async (event, em) => {
        const tenantId = event.payload.tenantId;
        if (await isPurged(em, tenantId)) return;
        await enterTenantScope(em, tenantId);
        const userId = event.type === 'tenancy.tenant_created' ? event.payload.ownerUserId : event.payload.userId;
        if (event.type === 'identity.member_removed')
          await em.query(`DELETE FROM commerce.members WHERE tenant_id = $1 AND user_id = $2`, [tenantId, userId]);
        else
          await em.query(`INSERT INTO commerce.members (tenant_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [
            tenantId,
            userId,
          ]);
        await scheduleSeatSync(em, tenantId);
      },
    }),
    consumer({
      name: 'billing-contact',
      types: ['identity.tenant_registered'],
      handle: async (event, em) => {
        const { tenantId, ownerUserId, ownerEmail } = event.payload;
        if (await isPurged(em, tenantId)) return;
        await enterTenantScope(em, tenantId);
        await em.query(`INSERT INTO commerce.members (tenant_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [
          tenantId,
          ownerUserId,
        ]);
        const account = await loadAccount(em, tenantId, provider.name, true);
        if (!account.email) {
          account.email = ownerEmail;
          await saveAccount(em, account);
        }
      },
    }),
    consumer({
      name: 'billing-tenant-deleted',
      types: ['tenancy.tenant_status_changed'],
      handle: async (event, em) => {
        if (event.payload.status !== 'deleted') return;
        const tenantId = event.payload.tenantId;
        await scheduleJob(em, 'commerce', {
          name: 'billing-tenant-deleted',
          key: `billing-tenant-deleted:${tenantId}:${event.id}`,
          runAt: new Date(),
          payload: { tenantId },
        });
      },
    }),
    consumer({
      name: 'billing-usage',
      types: ['tenancy.usage_recorded'],
      handle: async (event, em) => {
        const { tenantId, metric, module, hour, amount } = event.payload;
        if (!METERED.has(metric) || (await isPurged(em, tenantId))) return;
        await enterTenantScope(em, tenantId);
        // Totals only grow: a late (older) report of the same hour keeps the larger one.
        await em.query(
          `INSERT INTO commerce.metered_usage (tenant_id, metric, module, hour, amount) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (tenant_id, metric, module, hour) DO UPDATE SET amount = GREATEST(commerce.metered_usage.amount, EXCLUDED.amount)`,
          [tenantId, metric as MeteredMetric, module, hour, amount],
        );
        if (provider.name !== 'stripe') return;
        const every = deps.config.billing.BILLING_USAGE_REPORT_SECONDS * 1000;
        // One report per window: steady usage does not push the report back forever.
        const window = every > 0 ? Math.ceil(Date.now() / every) * every : Date.now();
        await scheduleJob(em, 'commerce', {
          name: 'billing-usage-report',
          key: `billing-usage-report:${tenantId}:${window}`,
          runAt: new Date(window),
          payload: { tenantId },
        });
      },
    }),
  ];
}
