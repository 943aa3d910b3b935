import { randomUUID } from 'node:crypto';
import { In, type EntityManager } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withSystem, withTenant, withUser } from '../../../kernel/db/tenant-scope';
import { isUuid } from '../../../kernel/db/values';
import { recordEvent, type DomainEvent } from '../../../kernel/events';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TENANT_STATUS_CHANGED_TOPIC } from '../../../kernel/topics';
import { TenancyErrorCode, tenancyError } from '../tenancy.errors';
import { Membership } from './membership.entity';
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
    return withTenant(this.deps.ds, ctx, (em, tenantId) => em.find(Membership, { where: { tenantId }, order: { createdAt: 'ASC' } }));
  }

  /** A new tenant owned by the caller (who then switches to it with `switchTenant`). */
  async create(ctx: RequestContext, input: CreateTenantInput): Promise<Tenant> {
    const name = checkedName(input.name);
    const slug = input.slug === undefined || input.slug === null ? null : checkedSlug(input.slug);
    const tenantId = randomUUID();
    const { tenant, event } = await withTenant(this.deps.ds, { ...ctx, tenantId }, async (em) => {
      const chosen = slug ?? (await freeSlug(em, slugify(name), tenantId));
      try {
        await em.query(`INSERT INTO tenancy.tenants (tenant_id, name, slug, status) VALUES ($1, $2, $3, $4)`, [tenantId, name, chosen, TenantStatus.ACTIVE]);
      } catch (err) {
        if ((err as { code?: string }).code === '23505') throw tenancyError(TenancyErrorCode.SLUG_TAKEN);
        throw err;
      }
      await em.query(`INSERT INTO tenancy.memberships (tenant_id, user_id, role) VALUES ($1, $2, 'owner')`, [tenantId, ctx.userId]);
      const event = await recordEvent(em, 'tenancy', {
        type: 'tenancy.tenant_created',
        tenantId,
        payload: { tenantId, name, slug: chosen, ownerUserId: ctx.userId, actorId: ctx.userId },
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
      const event = await recordEvent(em, 'tenancy', { type: 'tenancy.tenant_updated', tenantId, payload: { tenantId, name, slug, actorId: ctx.userId } });
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
        .map((m) => ({ tenant: byId.get(m.tenantId)!, role: m.role, joinedAt: m.createdAt, current: m.tenantId === ctx.tenantId }));
    });
  }

  /**
   * Suspends or reactivates any tenant (platform operators). A suspended tenant's members are refused at
   * the gateway, except for status and billing operations, and their live connections close.
   */
  async setStatus(ctx: RequestContext, tenantId: string, status: TenantStatus, reason: string | null): Promise<Tenant> {
    if (!isUuid(tenantId)) throw tenancyError(TenancyErrorCode.TENANT_NOT_FOUND);
    const text = reason === null ? null : reason.trim();
    if (text !== null && (text.length < 1 || text.length > 500)) throw tenancyError(TenancyErrorCode.INVALID_TENANT, 'A reason is 1 to 500 characters');
    const { tenant, event } = await withSystem(this.deps.ds, `tenant ${status} by ${ctx.userId}`, async (em) => {
      const found = await em.findOneBy(Tenant, { id: tenantId });
      if (!found) throw tenancyError(TenancyErrorCode.TENANT_NOT_FOUND);
      if (found.status === status) throw tenancyError(TenancyErrorCode.INVALID_STATUS_CHANGE);
      await em.update(Tenant, { id: tenantId }, { status, statusReason: text, statusChangedAt: new Date() });
      const event = await recordEvent(em, 'tenancy', {
        type: 'tenancy.tenant_status_changed',
        tenantId,
        payload: { tenantId, status, reason: text, actorId: ctx.userId, actorTenantId: ctx.tenantId },
      });
      return { tenant: await em.findOneByOrFail(Tenant, { id: tenantId }), event };
    });
    await this.deps.pubsub.publish(TENANT_STATUS_CHANGED_TOPIC, { tenantId, status });
    // Recorded in the security audit log (identity) before the operator gets the answer.
    await this.deps.outbox.deliverNow([event]);
    return tenant;
  }

  /** For the gateway: a tenant's status (null when there is no such tenant). */
  async status(tenantId: string): Promise<{ status: TenantStatus } | null> {
    if (!isUuid(tenantId)) return null;
    const rows: { status: TenantStatus }[] = await withSystem(this.deps.ds, 'tenant status', (em) => em.query(`SELECT status FROM tenancy.tenants WHERE tenant_id = $1`, [tenantId]), 'debug');
    return rows[0] ?? null;
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

  /** Consumer of identity.tenant_registered: the tenant record and its owner's membership. */
  static async provision(event: DomainEvent, em: EntityManager): Promise<void> {
    const p = event.payload as { tenantId: string; name: string; ownerUserId: string };
    const base = slugify(p.name);
    const taken = await em.query(`SELECT 1 FROM tenancy.tenants WHERE slug = $1`, [base]);
    const slug = taken.length ? `${base}-${p.tenantId.slice(0, 8)}` : base;
    await em.query(
      `INSERT INTO tenancy.tenants (tenant_id, name, slug, status) VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO NOTHING`,
      [p.tenantId, p.name, slug, TenantStatus.ACTIVE],
    );
    await em.query(
      `INSERT INTO tenancy.memberships (tenant_id, user_id, role) VALUES ($1, $2, 'owner') ON CONFLICT DO NOTHING`,
      [p.tenantId, p.ownerUserId],
    );
  }
}

/** Consumer of identity.member_added: the member appears in the tenant's member list. */
export async function addMember(event: DomainEvent, em: EntityManager): Promise<void> {
  const p = event.payload as { tenantId: string; userId: string; role: string };
  await em.query(
    `INSERT INTO tenancy.memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)
     ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = EXCLUDED.role`,
    [p.tenantId, p.userId, p.role],
  );
}

/** Consumer of identity.member_removed. */
export async function removeMember(event: DomainEvent, em: EntityManager): Promise<void> {
  const p = event.payload as { tenantId: string; userId: string };
  await em.query(`DELETE FROM tenancy.memberships WHERE tenant_id = $1 AND user_id = $2`, [p.tenantId, p.userId]);
}

function checkedName(raw: string | null | undefined): string {
  const name = (raw ?? '').trim();
  if (name.length < 1 || name.length > 100) throw tenancyError(TenancyErrorCode.INVALID_TENANT, 'Tenant name must be 1 to 100 characters');
  return name;
}

function checkedSlug(raw: string): string {
  const slug = raw.trim();
  if (!SLUG.test(slug)) throw tenancyError(TenancyErrorCode.INVALID_TENANT, 'A slug is 1 to 64 lower-case letters, digits and dashes, not starting or ending with a dash');
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
