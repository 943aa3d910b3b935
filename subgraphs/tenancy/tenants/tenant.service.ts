import { randomUUID } from 'node:crypto';
import { In, type EntityManager } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withSystem, withTenant, withUser } from '../../../kernel/db/tenant-scope';
import { isUuid, returningRows } from '../../../kernel/db/values';
import { recordEvent } from '../../../kernel/events';
import { TENANT_PURGED_EVENT, type EventOf } from '../../../kernel/contracts/events';
import { scheduleJob } from '../../../kernel/jobs';
import type { JobHandler, JobName } from '../../../kernel/contracts/jobs';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TENANT_STATUS_CHANGED_TOPIC } from '../../../kernel/contracts/topics';
import { forbidden, unauthenticated } from '../../../kernel/errors';
import { TEXT_LIMITS, cleanName, lengthRange } from '../../../kernel/text';
import { TenancyErrorCode, tenancyError } from '../tenancy.errors';
import { Membership } from './membership.entity';
import { onboardingOf, type Onboarding } from './onboarding';
import { Tenant, TenantStatus, type CreateTenantInput, type MyTenant, type UpdateTenantInput } from './tenant.entity';

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

export class TenantService {
  constructor(private readonly deps: SubgraphDeps) {}

  async current(ctx: RequestContext): Promise<Tenant> {
    const tenant = await withTenant(this.deps.ds, ctx, (em, tenantId) => em.findOneBy(Tenant, { id: tenantId }));
    if (!tenant) throw tenancyError(TenancyErrorCode.TENANT_NOT_FOUND);
    return tenant;
  }

  async members(ctx: RequestContext, tenant: Tenant): Promise<Membership[]> {
    if (tenant.id !== ctx.tenantId) return [];
    return withTenant(this.deps.ds, ctx, (em, tenantId) =>
      em.find(Membership, { where: { tenantId }, order: { createdAt: 'ASC' } }),
    );
  }

  /** A new tenant owned by the caller (who then switches to it with `switchTenant`). */
  async create(ctx: RequestContext, input: CreateTenantInput): Promise<Tenant> {
    const ownerUserId = ctx.userId;
    if (!ownerUserId) throw unauthenticated();
    const name = checkedName(input.name);
    const slug = input.slug === undefined || input.slug === null ? null : checkedSlug(input.slug);
    const tenantId = randomUUID();
    const { tenant, event } = await withTenant(this.deps.ds, { ...ctx, tenantId }, async (em) => {
      const chosen = slug ?? (await freeSlug(em, slugify(name), tenantId));
      try {
        await em.query(`INSERT INTO tenancy.tenants (tenant_id, name, slug, status) VALUES ($1, $2, $3, $4)`, [
          tenantId,
          name,
          chosen,
          TenantStatus.ACTIVE,
        ]);
      } catch (err) {
        if ((err as { code?: string }).code === '23505') throw tenancyError(TenancyErrorCode.SLUG_TAKEN);
        throw err;
      }
      await em.query(`INSERT INTO tenancy.memberships (tenant_id, user_id, role) VALUES ($1, $2, 'owner')`, [
        tenantId,
        ownerUserId,
      ]);
      await startTrial(em, tenantId, this.deps.config.tenancy.TRIAL_PERIOD_SECONDS);
      const event = await recordEvent(em, 'tenancy', {
        type: 'tenancy.tenant_created',
        tenantId,
        payload: { tenantId, name, slug: chosen, ownerUserId, actorId: ownerUserId },
      });
      return { tenant: await em.findOneByOrFail(Tenant, { id: tenantId }), event };
    });
    // Identity adds the owner's membership (so `switchTenant` works at once), messaging the general room.
    await this.deps.outbox.deliverNow([event]);
    return tenant;
  }

  async update(ctx: RequestContext, input: UpdateTenantInput): Promise<Tenant> {
    const updated = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const current = await em.findOneByOrFail(Tenant, { id: tenantId });
      const name = input.name === undefined || input.name === null ? current.name : checkedName(input.name);
      const slug = input.slug === undefined || input.slug === null ? current.slug : checkedSlug(input.slug);
      try {
        await em.update(Tenant, { id: tenantId }, { name, slug });
      } catch (err) {
        if ((err as { code?: string }).code === '23505') throw tenancyError(TenancyErrorCode.SLUG_TAKEN);
        throw err;
      }
      const event = await recordEvent(em, 'tenancy', {
        type: 'tenancy.tenant_updated',
        tenantId,
        payload: { tenantId, name, slug, actorId: ctx.userId },
      });
      return { tenant: await em.findOneByOrFail(Tenant, { id: tenantId }), event };
    });
    await this.deps.outbox.deliverNow([updated.event]);
    return updated.tenant;
  }

  /** Every tenant the caller belongs to, oldest membership first. */
  async mine(ctx: RequestContext): Promise<MyTenant[]> {
    return withUser(this.deps.ds, ctx.userId!, async (em) => {
      const memberships = await em.find(Membership, { where: { userId: ctx.userId! }, order: { createdAt: 'ASC' } });
      const tenants = await em.findBy(Tenant, { id: In(memberships.map((m) => m.tenantId)) });
      const byId = new Map(tenants.map((t) => [t.id, t]));
      return memberships
        .filter((m) => byId.has(m.tenantId))
        .map((m) => ({
          tenant: byId.get(m.tenantId)!,
          role: m.role,
          joinedAt: m.createdAt,
          current: m.tenantId === ctx.tenantId,
        }));
    });
  }

  /**
   * Suspends or reactivates any tenant (platform operators). A suspended tenant's members are refused at
   * the gateway, except for status and billing operations, and their live connections close.
   */
  async setStatus(ctx: RequestContext, tenantId: string, status: TenantStatus, reason: string | null): Promise<Tenant> {
    if (!isUuid(tenantId)) throw tenancyError(TenancyErrorCode.TENANT_NOT_FOUND);
    const text = reason === null ? null : reason.trim();
    if (text !== null && (text.length < 1 || text.length > TEXT_LIMITS.reason))
      throw tenancyError(TenancyErrorCode.INVALID_TENANT, `A reason is ${lengthRange(TEXT_LIMITS.reason)}`);
    return this.changeStatus(ctx, tenantId, `tenant ${status} by ${ctx.userId}`, async (em, found) => {
      if (found.status === status) throw tenancyError(TenancyErrorCode.INVALID_STATUS_CHANGE);
      if (found.status === TenantStatus.DELETED)
        throw tenancyError(
          TenancyErrorCode.INVALID_STATUS_CHANGE,
          'A deleted tenant is restored by its owner (restoreTenant)',
        );
      // Reactivating after the trial ended takes the tenant off trial.
      const trialEndsAt =
        found.status === TenantStatus.TRIAL_EXPIRED && status === TenantStatus.ACTIVE ? null : found.trialEndsAt;
      await em.update(
        Tenant,
        { id: tenantId },
        { status, statusReason: text, statusChangedAt: new Date(), trialEndsAt },
      );
      return { status, reason: text };
    });
  }

  /** Super Admins: moves the end of a tenant's trial (an expired trial becomes active again). */
  async extendTrial(ctx: RequestContext, tenantId: string, until: Date): Promise<Tenant> {
    if (!isUuid(tenantId)) throw tenancyError(TenancyErrorCode.TENANT_NOT_FOUND);
    if (!(until instanceof Date) || Number.isNaN(until.getTime()) || until.getTime() <= Date.now()) {
      throw tenancyError(TenancyErrorCode.INVALID_TENANT, 'The new end of the trial must be in the future');
    }
    return this.changeStatus(ctx, tenantId, `trial extended by ${ctx.userId}`, async (em, found) => {
      if (found.status !== TenantStatus.ACTIVE && found.status !== TenantStatus.TRIAL_EXPIRED)
        throw tenancyError(TenancyErrorCode.INVALID_STATUS_CHANGE);
      await em.update(
        Tenant,
        { id: tenantId },
        { status: TenantStatus.ACTIVE, trialEndsAt: until, statusReason: null, statusChangedAt: new Date() },
      );
      await scheduleJob(em, 'tenancy', {
        name: TRIAL_EXPIRY_JOB,
        key: `trial-expiry:${tenantId}`,
        runAt: until,
        payload: { tenantId },
      });
      return { status: TenantStatus.ACTIVE, reason: `trial until ${until.toISOString()}` };
    });
  }

  /** The owner deletes the current tenant: refused everywhere at once, restorable until the purge. */
  async delete(ctx: RequestContext, tenantId: string): Promise<Tenant> {
    this.assertOwnerOf(ctx, tenantId);
    const grace = this.deps.config.tenancy.TENANT_DELETE_GRACE_SECONDS;
    return this.changeStatus(ctx, tenantId, `tenant deleted by ${ctx.userId}`, async (em, found) => {
      if (found.status === TenantStatus.DELETED) throw tenancyError(TenancyErrorCode.INVALID_STATUS_CHANGE);
      const purgeAt = new Date(Date.now() + grace * 1000);
      await em.update(
        Tenant,
        { id: tenantId },
        {
          status: TenantStatus.DELETED,
          deletedAt: new Date(),
          purgeAt,
          statusReason: 'Deleted by its owner',
          statusChangedAt: new Date(),
        },
      );
      await scheduleJob(em, 'tenancy', {
        name: PURGE_JOB,
        key: `purge:${tenantId}`,
        runAt: purgeAt,
        payload: { tenantId },
      });
      return { status: TenantStatus.DELETED, reason: `purge at ${purgeAt.toISOString()}` };
    });
  }

  async restore(ctx: RequestContext, tenantId: string): Promise<Tenant> {
    this.assertOwnerOf(ctx, tenantId);
    return this.changeStatus(ctx, tenantId, `tenant restored by ${ctx.userId}`, async (em, found) => {
      if (found.status !== TenantStatus.DELETED)
        throw tenancyError(TenancyErrorCode.INVALID_STATUS_CHANGE, 'Only a deleted tenant can be restored');
      await em.update(
        Tenant,
        { id: tenantId },
        {
          status: TenantStatus.ACTIVE,
          deletedAt: null,
          purgeAt: null,
          statusReason: null,
          statusChangedAt: new Date(),
        },
      );
      return { status: TenantStatus.ACTIVE, reason: null };
    });
  }

  private assertOwnerOf(ctx: RequestContext, tenantId: string): void {
    if (tenantId !== ctx.tenantId)
      throw tenancyError(TenancyErrorCode.TENANT_NOT_FOUND, 'Switch to the tenant first; only its owner can do this');
    if (!ctx.roles.includes('owner')) throw forbidden('Only an owner can delete or restore the tenant');
  }

  /** One status change on the system path, its event and announcement (shared by the operations above). */
  private async changeStatus(
    ctx: RequestContext,
    tenantId: string,
    reason: string,
    change: (em: EntityManager, found: Tenant) => Promise<{ status: TenantStatus; reason: string | null }>,
  ): Promise<Tenant> {
    const { tenant, event, status } = await withSystem(this.deps.ds, reason, async (em) => {
      const found = await em.findOneBy(Tenant, { id: tenantId });
      if (!found) throw tenancyError(TenancyErrorCode.TENANT_NOT_FOUND);
      const outcome = await change(em, found);
      const event = await recordEvent(em, 'tenancy', {
        type: 'tenancy.tenant_status_changed',
        tenantId,
        payload: {
          tenantId,
          status: outcome.status,
          reason: outcome.reason,
          actorId: ctx.userId,
          actorTenantId: ctx.tenantId,
        },
      });
      return { tenant: await em.findOneByOrFail(Tenant, { id: tenantId }), event, status: outcome.status };
    });
    await this.deps.pubsub.publish(TENANT_STATUS_CHANGED_TOPIC, { tenantId, status });
    await this.deps.outbox.deliverNow([event]);
    return tenant;
  }

  /** For the gateway: a tenant's status (null when there is no such tenant). */
  async status(tenantId: string): Promise<{ status: TenantStatus } | null> {
    if (!isUuid(tenantId)) return null;
    const rows: { status: TenantStatus }[] = await withSystem(
      this.deps.ds,
      'tenant status',
      (em) => em.query(`SELECT status FROM tenancy.tenants WHERE tenant_id = $1`, [tenantId]),
      'debug',
    );
    return rows[0] ?? null;
  }

  async onboarding(ctx: RequestContext, tenant: Tenant): Promise<Onboarding | null> {
    if (tenant.id !== ctx.tenantId) return null;
    return withTenant(this.deps.ds, ctx, (em, tenantId) => onboardingOf(em, tenantId));
  }

  /** Reference lookups: only the caller's own tenant ever resolves. */
  async byIds(ctx: RequestContext, ids: readonly string[]): Promise<(Tenant | null)[]> {
    if (!ctx.tenantId) return ids.map(() => null);
    const rows = await withTenant(this.deps.ds, ctx, (em, tenantId) =>
      em.findBy(Tenant, { id: In(ids.filter((id) => id === tenantId)) }),
    );
    const byId = new Map(rows.map((t) => [t.id, t]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** Consumer of identity.tenant_registered: the tenant record (on trial), its owner's membership. */
  static async provision(
    event: EventOf<'identity.tenant_registered'>,
    em: EntityManager,
    trialSeconds: number,
  ): Promise<void> {
    const p = event.payload;
    // Identity checked the name; it is cleaned again as every tenant name is stored.
    const name = cleanName(p.name).slice(0, TEXT_LIMITS.tenantName) || 'Workspace';
    const slug = await freeSlug(em, slugify(name), p.tenantId);
    await em.query(
      `INSERT INTO tenancy.tenants (tenant_id, name, slug, status) VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO NOTHING`,
      [p.tenantId, name, slug, TenantStatus.ACTIVE],
    );
    await em.query(
      `INSERT INTO tenancy.memberships (tenant_id, user_id, role) VALUES ($1, $2, 'owner') ON CONFLICT DO NOTHING`,
      [p.tenantId, p.ownerUserId],
    );
    await startTrial(em, p.tenantId, trialSeconds);
  }
}

/** Puts a new tenant on trial and schedules the end of it (a durable job). */
async function startTrial(em: EntityManager, tenantId: string, seconds: number): Promise<void> {
  if (seconds <= 0) return;
  const [row]: { trial_ends_at: Date }[] = await em
    .query(
      `UPDATE tenancy.tenants SET trial_ends_at = now() + make_interval(secs => $2) WHERE tenant_id = $1 RETURNING trial_ends_at`,
      [tenantId, seconds],
    )
    .then((r) => returningRows<{ trial_ends_at: Date }>(r));
  await scheduleJob(em, 'tenancy', {
    name: TRIAL_EXPIRY_JOB,
    key: `trial-expiry:${tenantId}`,
    runAt: row.trial_ends_at,
    payload: { tenantId },
  });
}

export const TRIAL_EXPIRY_JOB = 'trial-expiry' satisfies JobName;
export const PURGE_JOB = 'purge-tenant' satisfies JobName;

/** Job: the trial is over (unless it was extended or the tenant left the trial meanwhile). */
export function trialExpiryJob(deps: SubgraphDeps): JobHandler<typeof TRIAL_EXPIRY_JOB> {
  return async ({ tenantId }, em) => {
    const expired = returningRows<{ tenant_id: string }>(
      await em.query(
        `UPDATE tenancy.tenants SET status = 'trial_expired', status_reason = 'Trial period ended', status_changed_at = now()
          WHERE tenant_id = $1 AND status = 'active' AND trial_ends_at IS NOT NULL AND trial_ends_at <= now() RETURNING tenant_id`,
        [tenantId],
      ),
    );
    if (!expired.length) return;
    const event = await recordEvent(em, 'tenancy', {
      type: 'tenancy.tenant_status_changed',
      tenantId,
      payload: { tenantId, status: TenantStatus.TRIAL_EXPIRED, reason: 'Trial period ended', actorId: null },
    });
    return async () => {
      await deps.pubsub.publish(TENANT_STATUS_CHANGED_TOPIC, { tenantId, status: TenantStatus.TRIAL_EXPIRED });
      await deps.outbox.deliverNow([event]);
    };
  };
}

/** Job: a deleted tenant's grace period is over: every subgraph deletes its rows (kernel purge consumer). */
export function purgeJob(deps: SubgraphDeps): JobHandler<typeof PURGE_JOB> {
  return async ({ tenantId }, em) => {
    const [due]: { due: boolean }[] = await em.query(
      `SELECT EXISTS (SELECT 1 FROM tenancy.tenants WHERE tenant_id = $1 AND status = 'deleted' AND purge_at <= now()) AS due`,
      [tenantId],
    );
    if (!due.due) return;
    // Recorded without a tenant: the event itself must not be one of the tenant's rows.
    const event = await recordEvent(em, 'tenancy', {
      type: TENANT_PURGED_EVENT,
      tenantId: null,
      payload: { tenantId },
    });
    return async () => {
      await deps.outbox.deliverNow([event]);
      await deps.pubsub.publish(TENANT_STATUS_CHANGED_TOPIC, { tenantId, status: 'purged' });
    };
  };
}

/** Consumer of identity.member_added: the member appears in the tenant's member list. */
export async function addMember(event: EventOf<'identity.member_added'>, em: EntityManager): Promise<void> {
  const p = event.payload;
  await em.query(
    `INSERT INTO tenancy.memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)
     ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = EXCLUDED.role`,
    [p.tenantId, p.userId, p.role],
  );
}

/** Consumer of identity.member_removed. */
export async function removeMember(event: EventOf<'identity.member_removed'>, em: EntityManager): Promise<void> {
  const p = event.payload;
  await em.query(`DELETE FROM tenancy.memberships WHERE tenant_id = $1 AND user_id = $2`, [p.tenantId, p.userId]);
}

function checkedName(raw: string | null | undefined): string {
  const name = cleanName(raw ?? '');
  if (name.length < 1 || name.length > TEXT_LIMITS.tenantName)
    throw tenancyError(TenancyErrorCode.INVALID_TENANT, `Tenant name must be ${lengthRange(TEXT_LIMITS.tenantName)}`);
  return name;
}

function checkedSlug(raw: string): string {
  const slug = raw.trim();
  if (!SLUG.test(slug))
    throw tenancyError(
      TenancyErrorCode.INVALID_TENANT,
      'A slug is 1 to 64 lower-case letters, digits and dashes, not starting or ending with a dash',
    );
  return slug;
}

/** The slug, or the slug with a short suffix when another tenant has it (global uniqueness is checked by a definer function). */
async function freeSlug(em: EntityManager, base: string, tenantId: string): Promise<string> {
  const [row]: { taken: boolean }[] = await em.query(`SELECT tenancy.slug_taken($1) AS taken`, [base]);
  return row.taken ? `${base.slice(0, 55)}-${tenantId.slice(0, 8)}` : base;
}

export function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48);
  return slug || 'tenant';
}
