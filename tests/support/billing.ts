import { CreatePlanDocument, type PlanInput } from '../generated/graphql';
import type { User } from './client';
import { uniqueEmail } from './fixtures';
import type { TestPlatform } from './platform';

/** Asks `read` until `done` holds for its answer (or fails with the last answer after `ms`). */
export async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`still not there after ${ms} ms: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A platform operator: an account named in SUPER_ADMIN_EMAILS, confirmed and using two-factor sign-in. */
export async function operator(t: TestPlatform, email: string): Promise<User> {
  const op = await t.signUp('Platform Operations', email);
  await op.confirmEmail();
  await op.turnOnTotp();
  return op;
}

export const OPERATOR_EMAIL = () => uniqueEmail('billing-ops');

/**
 * The plan the billing tests subscribe to: 29.00 a month flat, 5.00 per seat, messages metered with the first 10
 * free and 2 cents each after; it grants the AI assistant and a limit of 500 messages a month.
 */
export const TEAM_PLAN: PlanInput = {
  id: 'team',
  name: 'Team',
  currency: 'EUR',
  modules: ['ai-assistant'],
  limits: { messagesPerMonth: 500 },
  prices: [
    { interval: 'MONTH', kind: 'FLAT', unitAmount: '2900' },
    { interval: 'MONTH', kind: 'SEAT', unitAmount: '500' },
    {
      interval: 'MONTH',
      kind: 'METERED',
      metric: 'MESSAGES',
      tiers: [
        { upTo: 10, unitAmount: '0' },
        { upTo: null, unitAmount: '2' },
      ],
    },
  ],
};

/** A bigger plan to change to: 99.00 a month, the same seats and meter, 5000 messages. */
export const BUSINESS_PLAN: PlanInput = {
  ...TEAM_PLAN,
  id: 'business',
  name: 'Business',
  limits: { messagesPerMonth: 5000 },
  prices: TEAM_PLAN.prices.map((p) => (p.kind === 'FLAT' ? { ...p, unitAmount: '9900' } : p)),
};

export async function createPlan(op: User, plan: PlanInput): Promise<void> {
  const res = await op.gql(CreatePlanDocument, { input: plan });
  if (!res.data) throw new Error(`createPlan failed: ${JSON.stringify(res.errors)}`);
}
