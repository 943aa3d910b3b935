import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { isAmount } from '../../../kernel/amount.scalar';
import type { RequestContext } from '../../../kernel/context';
import { withSystem } from '../../../kernel/db/tenant-scope';
import { scheduleJob } from '../../../kernel/jobs';
import { logger } from '../../../kernel/log';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TEXT_LIMITS, cleanName } from '../../../kernel/text';
import { CommerceErrorCode, commerceError } from '../commerce.errors';
import {
  BILLING_INTERVALS,
  METERED_METRICS,
  type BillingProvider,
  type PlanPrice,
  type PlanRecord,
  type PriceTier,
} from './billing.model';
import { billingAudit } from './billing.service';
import { loadPlan, loadPlans, savePlan, saveProviderPrices } from './billing.store';
import type { PlanInput, PlanPriceInput } from './billing.types';
import { DEFAULT_PLANS } from './default-plans';

const log = logger('commerce.plans');
const PLAN_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const MODULE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const MAX_UNITS = 2_147_483_647;

/** The input's limits by tenancy's metric names. */
function limitsOf(input: PlanInput['limits']): Record<string, number> {
  const given: Record<string, number | null | undefined> = {
    api_calls: input?.apiCallsPerMonth,
    messages: input?.messagesPerMonth,
    members: input?.members,
    storage_bytes: input?.storageMiB == null ? input?.storageMiB : input.storageMiB * 1024 * 1024,
    llm_tokens: input?.llmTokensPerMonth,
  };
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(given)) {
    if (v === null || v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 0)
      throw commerceError(CommerceErrorCode.INVALID_PLAN, `limits.${k}: a whole number ≥ 0`);
    out[k] = v;
  }
  return out;
}

/** A price's terms, checked; its key names the terms, so new terms get a new price at the provider. */
function priceOf(planId: string, currency: string, p: PlanPriceInput): PlanPrice {
  const fail = (m: string) => commerceError(CommerceErrorCode.INVALID_PLAN, `prices: ${m}`);
  if (!BILLING_INTERVALS.includes(p.interval)) throw fail('interval is MONTH or YEAR');
  const metric = p.metric ?? null;
  if (p.kind === 'metered' ? !metric || !METERED_METRICS.includes(metric) : metric !== null)
    throw fail('a METERED price names its metric; other prices none');
  let tiers: PriceTier[] | null = null;
  if (p.tiers?.length) {
    if (p.kind !== 'metered') throw fail('only METERED prices have tiers');
    if (p.unitAmount != null) throw fail('a tiered price has no unitAmount');
    let last = 0;
    tiers = p.tiers.map((t, i) => {
      const upTo = t.upTo ?? null;
      const final = i === p.tiers!.length - 1;
      if (final !== (upTo === null)) throw fail('every tier but the last has upTo; the last has none');
      if (upTo !== null && (!Number.isSafeInteger(upTo) || upTo <= last || upTo > MAX_UNITS))
        throw fail('tiers go up: each upTo above the one before');
      if (upTo !== null) last = upTo;
      const flatAmount = t.flatAmount ?? '0';
      if (!isAmount(t.unitAmount) || !isAmount(flatAmount)) throw fail('tier amounts are Amounts');
      return { upTo, unitAmount: t.unitAmount, flatAmount };
    });
  } else if (p.unitAmount == null || !isAmount(p.unitAmount)) {
    throw fail('unitAmount is required');
  }
  const terms = JSON.stringify([currency, p.interval, p.kind, metric, p.unitAmount ?? null, tiers]);
  const hash = createHash('sha256').update(terms).digest('hex').slice(0, 10);
  const key = ['nexus', planId, p.interval, p.kind, metric, hash].filter(Boolean).join('_');
  return { key, interval: p.interval, kind: p.kind, metric, unitAmount: p.unitAmount ?? null, tiers };
}

/**
 * The platform's plan catalogue (Super Admins): what a plan grants in tenancy (modules, quota limits) and what it
 * costs. Each change is synced to the payment provider by a durable job (idempotent: prices are found by key).
 */
export class PlanService {
  constructor(
    private readonly deps: SubgraphDeps,
    private readonly provider: BillingProvider,
  ) {}

  list(activeOnly: boolean): Promise<PlanRecord[]> {
    return withSystem(this.deps.ds, 'list plans', (em) => loadPlans(em, activeOnly), 'debug');
  }

  byId(id: string): Promise<PlanRecord | null> {
    return withSystem(this.deps.ds, 'read plan', (em) => loadPlan(em, id), 'debug');
  }

  /** Creates a plan (`create`) or replaces one's terms; a replaced plan's existing subscriptions keep their prices. */
  async save(input: PlanInput, create: boolean, actor: RequestContext | null = null): Promise<PlanRecord> {
    const plan = this.checked(input);
    const saved = await withSystem(this.deps.ds, `${create ? 'create' : 'update'} plan ${plan.id}`, async (em) => {
      const prior = await loadPlan(em, plan.id);
      if (create && prior) throw commerceError(CommerceErrorCode.PLAN_EXISTS);
      if (!create && !prior) throw commerceError(CommerceErrorCode.PLAN_NOT_FOUND);
      plan.providerPrices = prior?.providerPrices ?? {};
      await savePlan(em, plan);
      await this.scheduleSync(em, plan.id);
      await this.audit(em, actor, create ? 'plan_created' : 'plan_updated', plan);
      return plan;
    });
    return saved;
  }

  async setActive(id: string, active: boolean, actor: RequestContext | null = null): Promise<PlanRecord> {
    return withSystem(this.deps.ds, `${active ? 'restore' : 'archive'} plan ${id}`, async (em) => {
      const plan = await loadPlan(em, id);
      if (!plan) throw commerceError(CommerceErrorCode.PLAN_NOT_FOUND);
      plan.active = active;
      await savePlan(em, plan);
      await this.audit(em, actor, active ? 'plan_restored' : 'plan_archived', plan);
      return plan;
    });
  }

  /** Adds the default plans when the catalogue is empty (a platform started with demo data). */
  async seedDefaults(): Promise<void> {
    if ((await this.list(false)).length > 0) return;
    for (const plan of DEFAULT_PLANS)
      await this.save(plan, true).catch((err: unknown) => log.warn({ err }, 'default plan not added'));
  }

  /** Creates at the provider whatever a plan's prices need and is missing; returns the plan with the provider's ids. */
  async sync(id: string): Promise<PlanRecord> {
    const plan = await this.byId(id);
    if (!plan) throw commerceError(CommerceErrorCode.PLAN_NOT_FOUND);
    const ids = await this.provider.syncPlan(plan);
    await withSystem(this.deps.ds, `plan ${id} synced`, (em) => saveProviderPrices(em, id, ids), 'debug');
    log.info({ planId: id, prices: Object.keys(ids).length }, 'plan synced with the payment provider');
    return { ...plan, providerPrices: { ...plan.providerPrices, ...ids } };
  }

  /** The plan with a provider id for each of its prices (synced now if one is missing). */
  async synced(plan: PlanRecord): Promise<PlanRecord> {
    return plan.prices.every((p) => plan.providerPrices[p.key]) ? plan : this.sync(plan.id);
  }

  /** Catalogue changes are in the audit log of the operator's tenant. */
  private async audit(em: EntityManager, actor: RequestContext | null, action: string, plan: PlanRecord) {
    if (!actor?.tenantId) return;
    const { providerPrices: _ids, ...terms } = plan;
    await billingAudit(em, actor.tenantId, action, actor.userId, `plan:${plan.id}`, terms);
  }

  private scheduleSync(em: EntityManager, planId: string): Promise<void> {
    return scheduleJob(em, 'commerce', {
      name: 'billing-plan-sync',
      key: `billing-plan-sync:${planId}`,
      runAt: new Date(),
      payload: { planId },
    });
  }

  private checked(input: PlanInput): PlanRecord {
    const fail = (m: string) => commerceError(CommerceErrorCode.INVALID_PLAN, m);
    if (!PLAN_ID.test(input.id ?? '')) throw fail('id: lower-case letters, digits and dashes');
    const name = cleanName(input.name ?? '');
    if (name.length < 1 || name.length > 120) throw fail('name: 1 to 120 characters');
    const description = input.description == null ? null : input.description.trim();
    if (description !== null && description.length > TEXT_LIMITS.reason * 4) throw fail('description: too long');
    const currency = input.currency ?? this.deps.config.billing.BILLING_CURRENCY;
    if (!/^[A-Z]{3}$/.test(currency)) throw fail('currency: an ISO 4217 code such as EUR');
    const trialDays = input.trialDays ?? 0;
    if (!Number.isInteger(trialDays) || trialDays < 0 || trialDays > 730) throw fail('trialDays: 0 to 730');
    const modules = [...new Set(input.modules ?? [])];
    if (modules.length > 50 || !modules.every((m) => MODULE_ID.test(m))) throw fail('modules: module ids');
    if (!input.prices?.length || input.prices.length > 20) throw fail('prices: 1 to 20');
    const prices = input.prices.map((p) => priceOf(input.id, currency, p));
    const seen = new Set<string>();
    for (const p of prices) {
      const slot = `${p.interval}:${p.kind}:${p.metric ?? ''}`;
      if (seen.has(slot)) throw fail(`prices: one ${p.kind} price${p.metric ? ` for ${p.metric}` : ''} per interval`);
      seen.add(slot);
    }
    return {
      id: input.id,
      name,
      description,
      currency,
      trialDays,
      modules,
      limits: limitsOf(input.limits),
      prices,
      active: input.active ?? true,
      providerPrices: {},
    };
  }
}
