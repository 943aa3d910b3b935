import type { PlanInput } from './billing.types';

/**
 * The plan catalogue a platform started with demo data begins with (SEED_DEMO): operators change, archive or replace
 * them. Amounts in minor units of BILLING_CURRENCY.
 */
export const DEFAULT_PLANS: PlanInput[] = [
  {
    id: 'starter',
    name: 'Starter',
    description: 'Team chat for small teams',
    modules: ['chat'],
    limits: { members: 10, messagesPerMonth: 10_000, apiCallsPerMonth: 100_000 },
    prices: [
      { interval: 'month', kind: 'flat', unitAmount: '900' },
      { interval: 'year', kind: 'flat', unitAmount: '9000' },
    ],
  },
  {
    id: 'team',
    name: 'Team',
    description: 'Chat, billing, affiliates and the AI assistant; per seat, with metered messages and AI tokens',
    trialDays: 14,
    modules: ['chat', 'billing', 'affiliates', 'ai-assistant'],
    limits: { members: 100, messagesPerMonth: 200_000, apiCallsPerMonth: 2_000_000, llmTokensPerMonth: 5_000_000 },
    prices: [
      { interval: 'month', kind: 'flat', unitAmount: '2900' },
      { interval: 'month', kind: 'seat', unitAmount: '500' },
      {
        interval: 'month',
        kind: 'metered',
        metric: 'messages',
        tiers: [
          { upTo: 100_000, unitAmount: '0' },
          { upTo: null, unitAmount: '1' },
        ],
      },
      {
        interval: 'month',
        kind: 'metered',
        metric: 'llm_tokens',
        tiers: [
          { upTo: 1_000_000, unitAmount: '0' },
          { upTo: null, unitAmount: '1' },
        ],
      },
    ],
  },
];
