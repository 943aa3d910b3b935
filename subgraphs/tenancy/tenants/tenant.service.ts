import { In, type EntityManager } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import type { DomainEvent } from '../../../kernel/events';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TenancyErrorCode, tenancyError } from '../tenancy.errors';
import { Membership } from './membership.entity';
import { Tenant, TenantStatus } from './tenant.entity';

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
