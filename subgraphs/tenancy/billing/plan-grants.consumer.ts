import type { EntityManager } from 'typeorm';
import { consumer, type EventOf } from '../../../kernel/contracts/events';
import {
  LIMITS_CHANGED_TOPIC,
  PERMISSIONS_CHANGED_TOPIC,
  TENANT_STATUS_CHANGED_TOPIC,
} from '../../../kernel/contracts/topics';
import { recordEvent } from '../../../kernel/events';
import { scheduleJob } from '../../../kernel/jobs';
import { logger } from '../../../kernel/log';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TEXT_LIMITS, cleanName } from '../../../kernel/text';
import { PLATFORM_VERSION, compareVersions } from '../../../kernel/version';
import {
  installModule,
  installedModules,
  moduleCatalog,
  seedBuiltInModules,
  uninstallModule,
} from '../modules/module.service';
import type { ModuleManifest } from '../modules/module.types';
import { TenantStatus } from '../tenants/tenant.entity';
import { TRIAL_EXPIRY_JOB } from '../tenants/tenant.service';
import { Metric } from '../usage/usage.types';
import { afterCommit } from './after-commit';

const log = logger('tenancy.billing');

/** A suspension whose reason starts so was made by billing, and billing lifts it (never an operator's). */
export const BILLING_REASON_PREFIX = 'billing:';

const METRICS = new Set<string>(Object.values(Metric));

interface GrantRow {
  version: number;
  plan_id: string | null;
  limits: Record<string, number>;
  installed: string[];
  standing_version: number;
}

/** The tenant's grant row, locked for this transaction (made empty on first use); null for an unknown tenant. */
async function lockedGrant(em: EntityManager, tenantId: string): Promise<GrantRow | null> {
  const [tenant]: unknown[] = await em.query(`SELECT 1 FROM tenancy.tenants WHERE tenant_id = $1`, [tenantId]);
  if (!tenant) return null;
  await em.query(`INSERT INTO tenancy.plan_grants (tenant_id) VALUES ($1) ON CONFLICT (tenant_id) DO NOTHING`, [
    tenantId,
  ]);
  const [row]: GrantRow[] = await em.query(
    `SELECT version, plan_id, limits, installed, standing_version FROM tenancy.plan_grants WHERE tenant_id = $1 FOR UPDATE`,
    [tenantId],
  );
  return row;
}

/**
 * Consumer of commerce.subscription_changed: the tenant gets exactly what its plan grants. Modules the plan names
 * and the tenant lacks are installed (dependencies first; one whose dependency is neither installed nor granted is
 * skipped); modules an earlier grant installed and this one does not name are uninstalled (never those the tenant
 * installed itself); the plan's limits replace the ones the earlier grant set. An event no newer than the grant
 * applied is ignored.
 */
export function planGrantConsumer(deps: SubgraphDeps) {
  return consumer({
    name: 'plan-grants',
    types: ['commerce.subscription_changed'],
    handle: (event, em) => applyGrant(deps, event, em),
  });
}

/** Subscription statuses of a paying customer (past due and unpaid: dunning decides, through the billing standing). */
const PAYING: readonly string[] = ['active', 'past_due', 'unpaid'];
/** How long after a plan's trial ends the platform's trial does: time for the first payment to be reported. */
const TRIAL_CONVERSION_MS = 3_600_000;

async function applyGrant(
  deps: SubgraphDeps,
  event: EventOf<'commerce.subscription_changed'>,
  em: EntityManager,
): Promise<void> {
  const p = event.payload;
  const tenantId = p.tenantId;
  const grant = await lockedGrant(em, tenantId);
  if (!grant) {
    log.warn({ tenantId, eventId: event.id }, 'plan grant for an unknown tenant ignored');
    return;
  }
  if (p.version <= grant.version) {
    log.info({ tenantId, version: p.version, applied: grant.version }, 'older plan grant ignored');
    return;
  }

  let catalog = await moduleCatalog(em);
  if (p.modules.some((id) => !catalog.has(id))) {
    // Built-in modules may not be in the catalog yet on a fresh start.
    await seedBuiltInModules(em);
    catalog = await moduleCatalog(em);
  }
  const wanted = new Set(p.modules);
  const installed = new Set((await installedModules(em, tenantId)).keys());
  // What the earlier grant installed and is still there; only that is the grant's to take back.
  const byGrant = new Set(grant.installed.filter((id) => installed.has(id)));
  const events: string[] = [];

  // Take back, dependents first: a module another installed module needs stays (and stays the grant's).
  let toRemove = [...byGrant].filter((id) => !wanted.has(id));
  for (let progress = true; progress && toRemove.length;) {
    progress = false;
    for (const id of [...toRemove]) {
      const needed = [...installed].some((other) => other !== id && catalog.get(other)?.dependencies.includes(id));
      if (needed) continue;
      events.push(await uninstallModule(em, tenantId, id, p.actorId));
      installed.delete(id);
      byGrant.delete(id);
      toRemove = toRemove.filter((x) => x !== id);
      progress = true;
    }
  }
  if (toRemove.length)
    log.warn({ tenantId, modules: toRemove }, 'plan no longer grants modules other installed modules need: kept');

  // Install what the tenant lacks, dependencies first.
  let toInstall = p.modules.filter((id, i) => !installed.has(id) && p.modules.indexOf(id) === i);
  const unusable = (m: ModuleManifest | undefined) => !m || compareVersions(PLATFORM_VERSION, m.minPlatformVersion) < 0;
  const refused = toInstall.filter((id) => unusable(catalog.get(id)));
  if (refused.length)
    log.warn({ tenantId, modules: refused }, 'plan grants modules the catalog lacks or this platform cannot run');
  toInstall = toInstall.filter((id) => !refused.includes(id));
  for (let progress = true; progress && toInstall.length;) {
    progress = false;
    for (const id of [...toInstall]) {
      if (!catalog.get(id)!.dependencies.every((d) => installed.has(d))) continue;
      events.push((await installModule(em, tenantId, id, p.actorId)).event);
      installed.add(id);
      byGrant.add(id);
      toInstall = toInstall.filter((x) => x !== id);
      progress = true;
    }
  }
  if (toInstall.length)
    log.warn(
      { tenantId, modules: toInstall },
      'plan grants modules whose dependencies are neither installed nor granted: skipped',
    );

  // Limits: the earlier grant's keys go (back to the defaults), this grant's apply; an operator's other keys stay.
  const granted = Object.fromEntries(Object.entries(p.limits).filter(([metric]) => METRICS.has(metric)));
  const unknown = Object.keys(p.limits).filter((metric) => !METRICS.has(metric));
  if (unknown.length) log.warn({ tenantId, metrics: unknown }, 'plan sets limits of unknown metrics: ignored');
  const [current]: { limits: Record<string, number> }[] = await em.query(
    `SELECT limits FROM tenancy.tenant_limits WHERE tenant_id = $1 FOR UPDATE`,
    [tenantId],
  );
  const before = current?.limits ?? {};
  const limits = Object.fromEntries(Object.entries(before).filter(([metric]) => !(metric in grant.limits)));
  Object.assign(limits, granted);
  const limitsChanged = !sameRecord(before, limits);
  if (limitsChanged) {
    await em.query(
      `INSERT INTO tenancy.tenant_limits (tenant_id, limits) VALUES ($1, $2)
       ON CONFLICT (tenant_id) DO UPDATE SET limits = EXCLUDED.limits, updated_at = now()`,
      [tenantId, JSON.stringify(limits)],
    );
  }

  // The platform's own trial gives way to the plan. A paying tenant has none; a plan's trial makes it last at least as
  // long; a subscription that ended leaves the tenant without a plan, where a trial's end leaves it (billing stays open
  // to it, so it can subscribe again).
  let statusEvent: string | null = null;
  const [tenant]: { status: TenantStatus; trial_ends_at: Date | null }[] = await em.query(
    `SELECT status, trial_ends_at FROM tenancy.tenants WHERE tenant_id = $1 FOR UPDATE`,
    [tenantId],
  );
  const readmit = async (trialEndsAt: Date | null) => {
    await em.query(
      `UPDATE tenancy.tenants SET status = $2, status_reason = NULL, status_changed_at = now(), trial_ends_at = $3 WHERE tenant_id = $1`,
      [tenantId, TenantStatus.ACTIVE, trialEndsAt],
    );
    statusEvent = await recordEvent(em, 'tenancy', {
      type: 'tenancy.tenant_status_changed',
      tenantId,
      payload: { tenantId, status: TenantStatus.ACTIVE, reason: `${BILLING_REASON_PREFIX} subscribed`, actorId: null },
    });
  };
  const trialEndsAt = async (until: Date) => {
    await em.query(`UPDATE tenancy.tenants SET trial_ends_at = $2 WHERE tenant_id = $1`, [tenantId, until]);
    await scheduleJob(em, 'tenancy', {
      name: TRIAL_EXPIRY_JOB,
      key: `trial-expiry:${tenantId}`,
      runAt: until,
      payload: { tenantId },
    });
  };
  if (tenant && PAYING.includes(p.status)) {
    if (tenant.status === TenantStatus.TRIAL_EXPIRED) await readmit(null);
    else if (tenant.trial_ends_at)
      await em.query(`UPDATE tenancy.tenants SET trial_ends_at = NULL WHERE tenant_id = $1`, [tenantId]);
  } else if (tenant && p.status === 'trialing' && p.trialEnd) {
    // A little past the plan trial's end: the first payment's report arrives by then.
    const until = new Date(new Date(p.trialEnd).getTime() + TRIAL_CONVERSION_MS);
    if (tenant.status === TenantStatus.TRIAL_EXPIRED) await readmit(null);
    if (!tenant.trial_ends_at || tenant.trial_ends_at.getTime() < until.getTime()) await trialEndsAt(until);
  } else if (tenant && p.status === 'canceled' && grant.plan_id && tenant.status === TenantStatus.ACTIVE) {
    if (!tenant.trial_ends_at) await trialEndsAt(new Date());
  }

  await em.query(
    `UPDATE tenancy.plan_grants SET version = $2, plan_id = $3, modules = $4, limits = $5, installed = $6, updated_at = now()
      WHERE tenant_id = $1`,
    [tenantId, p.version, p.planId, [...wanted], JSON.stringify(granted), [...byGrant].sort()],
  );
  log.info(
    { tenantId, version: p.version, planId: p.planId, modules: [...installed].sort(), limits },
    'plan grant applied',
  );

  afterCommit(deps.ds, em, async () => {
    if (statusEvent) {
      await deps.pubsub.publish(TENANT_STATUS_CHANGED_TOPIC, { tenantId, status: TenantStatus.ACTIVE });
      await deps.outbox.deliverNow([statusEvent]);
    }
    if (limitsChanged) await deps.pubsub.publish(LIMITS_CHANGED_TOPIC, { tenantId });
    if (events.length) {
      // Identity applies the modules' permissions first; then gateways re-read rights.
      await deps.outbox.deliverNow(events);
      await deps.pubsub.publish(PERMISSIONS_CHANGED_TOPIC, { tenantId });
    }
  });
}

/**
 * Consumer of commerce.billing_standing_changed: `delinquent` suspends an active tenant (the reason says it was
 * billing), `good` reactivates a tenant billing suspended, never one an operator suspended. An event no newer than
 * the standing applied is ignored.
 */
export function billingStandingConsumer(deps: SubgraphDeps) {
  return consumer({
    name: 'billing-standing',
    types: ['commerce.billing_standing_changed'],
    handle: (event, em) => applyStanding(deps, event, em),
  });
}

async function applyStanding(
  deps: SubgraphDeps,
  event: EventOf<'commerce.billing_standing_changed'>,
  em: EntityManager,
): Promise<void> {
  const p = event.payload;
  const tenantId = p.tenantId;
  const grant = await lockedGrant(em, tenantId);
  if (!grant) {
    log.warn({ tenantId, eventId: event.id }, 'billing standing of an unknown tenant ignored');
    return;
  }
  if (p.version <= grant.standing_version) {
    log.info({ tenantId, version: p.version, applied: grant.standing_version }, 'older billing standing ignored');
    return;
  }
  await em.query(
    `UPDATE tenancy.plan_grants SET standing = $2, standing_version = $3, updated_at = now() WHERE tenant_id = $1`,
    [tenantId, p.standing, p.version],
  );
  const [tenant]: { status: TenantStatus; status_reason: string | null }[] = await em.query(
    `SELECT status, status_reason FROM tenancy.tenants WHERE tenant_id = $1 FOR UPDATE`,
    [tenantId],
  );
  let change: { status: TenantStatus; stored: string | null; reason: string } | null = null;
  if (p.standing === 'delinquent' && tenant.status === TenantStatus.ACTIVE) {
    const reason = billingReason(p.reason, p.invoiceId);
    change = { status: TenantStatus.SUSPENDED, stored: reason, reason };
  } else if (
    p.standing === 'good' &&
    tenant.status === TenantStatus.SUSPENDED &&
    tenant.status_reason?.startsWith(BILLING_REASON_PREFIX)
  ) {
    change = { status: TenantStatus.ACTIVE, stored: null, reason: `${BILLING_REASON_PREFIX} payments are up to date` };
  }
  if (!change) {
    log.info({ tenantId, standing: p.standing, status: tenant.status }, 'billing standing leaves the status as is');
    return;
  }
  await em.query(
    `UPDATE tenancy.tenants SET status = $2, status_reason = $3, status_changed_at = now() WHERE tenant_id = $1`,
    [tenantId, change.status, change.stored],
  );
  const recorded = await recordEvent(em, 'tenancy', {
    type: 'tenancy.tenant_status_changed',
    tenantId,
    payload: { tenantId, status: change.status, reason: change.reason, actorId: null },
  });
  log.info({ tenantId, status: change.status, reason: change.reason }, 'tenant status changed by billing');
  const status = change.status;
  afterCommit(deps.ds, em, async () => {
    // Gateways refuse (or admit again) the tenant's members and close its live connections.
    await deps.pubsub.publish(TENANT_STATUS_CHANGED_TOPIC, { tenantId, status });
    await deps.outbox.deliverNow([recorded]);
  });
}

/** What a billing suspension shows the tenant's members. */
function billingReason(reason: string | null | undefined, invoiceId: string | null | undefined): string {
  const given = cleanName(reason ?? '');
  const text = given
    ? given
    : invoiceId
      ? `invoice ${invoiceId} unpaid past the grace period`
      : 'an invoice is unpaid past the grace period';
  const prefixed = text.startsWith(BILLING_REASON_PREFIX) ? text : `${BILLING_REASON_PREFIX} ${text}`;
  return prefixed.slice(0, TEXT_LIMITS.reason);
}

function sameRecord(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => a[k] === b[k]);
}
