import type { JobHandlers } from '../../../kernel/contracts/jobs';
import type { EntityManager } from 'typeorm';
import { enterTenantScope, leaveTenantScope } from '../../../kernel/db/tenant-scope';
import { scheduleJob } from '../../../kernel/jobs';
import { createMailTransport } from '../../../kernel/mail';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { billingOf } from './billing.runtime';
import { isPurged, loadAccount, loadPlan, memberCount, saveProviderPrices } from './billing.store';
import { endBuiltinPeriod } from './builtin/builtin.period';
import { reportStripeUsage } from './stripe/stripe.usage';

/** Subscriptions that have not ended. */
const RUNNING = new Set(['trialing', 'active', 'past_due', 'unpaid', 'incomplete']);

/** Runs tenant work in the job's transaction, then gives it back to the runner (which marks the job done as owner). */
async function inScope(em: EntityManager, tenantId: string, work: () => Promise<void>): Promise<void> {
  // A purged tenant's timers find nothing to do (and must not make its rows again).
  if (await isPurged(em, tenantId)) return;
  await enterTenantScope(em, tenantId);
  await work();
  await leaveTenantScope(em);
}

/** Billing's durable timers. A job that calls the payment provider does so inside its transaction, then stores the answer. */
export function billingJobs(deps: SubgraphDeps): JobHandlers {
  const billing = billingOf(deps);
  const { mail, database } = deps.config;
  const transport = createMailTransport({
    smtpUrl: mail.SMTP_URL,
    from: mail.MAIL_FROM,
    dataDir: database.NEXUS_DATA_DIR,
  });
  return {
    'billing-plan-sync': async ({ planId }, em) => {
      const plan = await loadPlan(em, planId);
      if (plan) await saveProviderPrices(em, planId, await billing.provider.syncPlan(plan));
    },
    'billing-seat-sync': ({ tenantId }, em) =>
      inScope(em, tenantId, async () => {
        const account = await loadAccount(em, tenantId, billing.provider.name, true);
        const seats = Math.max(1, await memberCount(em, tenantId));
        if (!account.subscriptionId || account.status === 'canceled' || account.seats === seats) return;
        await billing.state.applyIn(em, tenantId, await billing.provider.setSeats(account, seats));
      }),
    'billing-tenant-deleted': ({ tenantId }, em) =>
      inScope(em, tenantId, async () => {
        const account = await loadAccount(em, tenantId, billing.provider.name, true);
        if (!account.subscriptionId || account.cancelAtPeriodEnd || !RUNNING.has(account.status)) return;
        await billing.state.applyIn(em, tenantId, await billing.provider.setCancelAtPeriodEnd(account, true));
      }),
    'billing-usage-report': async ({ tenantId }, em) => {
      if (!billing.stripe || (await isPurged(em, tenantId))) return;
      const report = await reportStripeUsage(deps, em, tenantId, billing.stripe);
      // Stripe failed part way: what was sent is kept, the rest goes in a report of its own a little later.
      if (report.pending > 0)
        await scheduleJob(em, 'commerce', {
          name: 'billing-usage-report',
          key: `billing-usage-report:${tenantId}:retry:${Date.now()}`,
          runAt: new Date(Date.now() + 30_000),
          payload: { tenantId },
        });
    },
    'billing-dunning': ({ tenantId, invoiceId, step }, em) =>
      inScope(em, tenantId, () => billing.state.dunningStep(em, tenantId, invoiceId, step)),
    'billing-period-end': async (payload, em) => {
      if (billing.provider.name !== 'builtin' || (await isPurged(em, payload.tenantId))) return;
      await endBuiltinPeriod(deps, billing.state, em, payload);
    },
    'billing-mail': async ({ to, subject, text }) => {
      await transport.send({ to, subject, text });
    },
  };
}
