import type { SubgraphDefinition } from '../../kernel/subgraph';
import { CommerceInit1763683200000 } from '../../migrations/commerce/1763683200000-commerce-init';
import { CommerceBilling1765800000000 } from '../../migrations/commerce/1765800000000-commerce-billing';
import { BillingResolver, PlanAdminResolver } from './billing/billing.resolver';
import { billingConsumers } from './billing/billing.consumers';
import { billingJobs } from './billing/billing.jobs';
import { billingOf } from './billing/billing.runtime';
import { stripeWebhookHook } from './billing/stripe/stripe.webhooks';
import { Product } from './products/product.entity';
import { ProductResolver, productReferenceResolver } from './products/product.resolver';

/** Products and prices, and the platform's billing of tenants (plans, subscriptions, invoices, dunning). */
export const commerceSubgraph: SubgraphDefinition = {
  name: 'commerce',
  entities: [Product],
  migrations: [CommerceInit1763683200000, CommerceBilling1765800000000],
  resolvers: [ProductResolver, BillingResolver, PlanAdminResolver],
  referenceResolvers: productReferenceResolver,
  consumers: billingConsumers,
  jobs: billingJobs,
  hooks: (deps) => {
    const billing = billingOf(deps);
    const stripe = billing.stripe ? stripeWebhookHook(deps, billing.state, billing.stripe) : null;
    return async (req) => {
      if (req.method === 'POST' && req.path === 'stripe') {
        if (stripe) return stripe(req);
        return {
          status: 404,
          body: { error: { code: 'STRIPE_NOT_CONFIGURED', message: 'Billing does not use Stripe' } },
        };
      }
      return { status: 404, body: { error: { code: 'NOT_FOUND', message: 'No such endpoint' } } };
    };
  },
  background: (deps) => {
    const seeding = deps.config.seed.SEED_DEMO ? billingOf(deps).plans.seedDefaults() : Promise.resolve();
    return { stop: () => seeding.catch(() => undefined) };
  },
  purge: () => async (em, tenantId) => {
    await em.query(`SELECT commerce.forget_customers($1)`, [tenantId]);
    await em.query(`INSERT INTO commerce.purged_tenants (owner_tenant) VALUES ($1) ON CONFLICT DO NOTHING`, [tenantId]);
  },
};
