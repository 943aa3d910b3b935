import type { SubgraphDeps } from '../../../kernel/subgraph';
import type { BillingProvider } from './billing.model';
import { BillingAccountService } from './billing-account.service';
import { BillingState } from './billing.service';
import { BuiltinProvider } from './builtin/builtin.provider';
import { PlanService } from './plan.service';
import { StripeProvider } from './stripe/stripe.provider';

/** Billing's parts for one running commerce subgraph: one provider (Stripe when configured, else built-in). */
export interface Billing {
  provider: BillingProvider;
  stripe: StripeProvider | null;
  state: BillingState;
  plans: PlanService;
  accounts: BillingAccountService;
}

const running = new WeakMap<object, Billing>();

/** The subgraph's billing parts, made once per data source (resolvers, jobs, consumers and hooks share them). */
export function billingOf(deps: SubgraphDeps): Billing {
  let billing = running.get(deps.ds);
  if (!billing) {
    const stripe = deps.config.billing.STRIPE_SECRET_KEY ? new StripeProvider(deps) : null;
    const provider: BillingProvider = stripe ?? new BuiltinProvider(deps);
    const state = new BillingState(deps, provider);
    const plans = new PlanService(deps, provider);
    billing = { provider, stripe, state, plans, accounts: new BillingAccountService(deps, provider, state, plans) };
    running.set(deps.ds, billing);
  }
  return billing;
}
