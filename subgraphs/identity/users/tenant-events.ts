import type { EntityManager } from 'typeorm';
import { systemContext } from '../../../kernel/context';
import type { EventOf } from '../../../kernel/contracts/events';
import { audit } from '../audit/audit.service';
import { AuditResult } from '../audit/audit-event.entity';

/** Consumer of tenancy.tenant_created: the creator becomes the owner here too (so they can switch to it). */
export async function addTenantOwner(event: EventOf<'tenancy.tenant_created'>, em: EntityManager): Promise<void> {
  const p = event.payload;
  await em.query(
    `INSERT INTO identity.memberships (tenant_id, user_id, role) VALUES ($1, $2, 'owner') ON CONFLICT DO NOTHING`,
    [p.tenantId, p.ownerUserId],
  );
  await audit(em, systemContext(event.id), p.tenantId, {
    action: 'tenant_create',
    result: AuditResult.SUCCESS,
    actorId: p.ownerUserId,
    target: `tenant:${p.tenantId}`,
    details: { name: p.name, slug: p.slug },
  });
}

const STATUS_ACTIONS: Record<string, string> = {
  suspended: 'tenant_suspend',
  active: 'tenant_reactivate',
  trial_expired: 'tenant_trial_expired',
  deleted: 'tenant_delete',
};

/** Consumer of tenancy changes: each lands in the security audit log of the tenant (and of an operator acting from elsewhere). */
export async function auditTenantChange(
  event: EventOf<'tenancy.tenant_updated' | 'tenancy.tenant_status_changed' | 'tenancy.settings_changed'>,
  em: EntityManager,
): Promise<void> {
  const action =
    event.type === 'tenancy.tenant_status_changed'
      ? (STATUS_ACTIONS[event.payload.status] ?? 'tenant_status_change')
      : event.type === 'tenancy.settings_changed'
        ? 'tenant_settings_update'
        : 'tenant_update';
  const { tenantId, actorId = null, ...changed } = event.payload;
  // Only a status change names the operator's tenant; every other field is what changed.
  const { actorTenantId, ...details }: typeof changed & { actorTenantId?: string | null } = changed;
  const entry = { action, result: AuditResult.SUCCESS, actorId, target: `tenant:${tenantId}`, details };
  await audit(em, systemContext(event.id), tenantId, entry);
  if (actorTenantId && actorTenantId !== tenantId) await audit(em, systemContext(event.id), actorTenantId, entry);
}

/** Consumer of tenancy.branding_changed: the names identity's mails for that tenant use. */
export async function rememberBranding(event: EventOf<'tenancy.branding_changed'>, em: EntityManager): Promise<void> {
  const p = event.payload;
  await em.query(
    `INSERT INTO identity.tenant_branding (tenant_id, display_name, sender_name) VALUES ($1, $2, $3)
     ON CONFLICT (tenant_id) DO UPDATE SET display_name = EXCLUDED.display_name, sender_name = EXCLUDED.sender_name`,
    [p.tenantId, p.displayName, p.emailSenderName],
  );
}

/**
 * Consumer of tenancy.domain_verified / tenancy.domain_released: the domains a tenant holds, whose addresses its
 * identity providers may sign in. The latest event wins, whatever order they arrive in.
 */
export async function rememberDomain(
  event: EventOf<'tenancy.domain_verified' | 'tenancy.domain_released'>,
  em: EntityManager,
): Promise<void> {
  const p = event.payload;
  await em.query(
    `INSERT INTO identity.tenant_domains AS d (tenant_id, domain, verified, as_of) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant_id, domain) DO UPDATE SET verified = EXCLUDED.verified, as_of = EXCLUDED.as_of WHERE d.as_of <= EXCLUDED.as_of`,
    [p.tenantId, p.domain, event.type === 'tenancy.domain_verified', event.occurredAt],
  );
}

/** The tenant's names for mails (a transaction scoped to the tenant); nulls mean the platform's. */
export async function mailBrandingOf(
  em: EntityManager,
  tenantId: string,
): Promise<{ displayName: string | null; senderName: string | null }> {
  const [row]: { display_name: string | null; sender_name: string | null }[] = await em.query(
    `SELECT display_name, sender_name FROM identity.tenant_branding WHERE tenant_id = $1`,
    [tenantId],
  );
  return { displayName: row?.display_name ?? null, senderName: row?.sender_name ?? null };
}

/** Consumer of commerce.billing_changed: billing's changes in the tenant's audit log (subscriptions, invoices, plans). */
export async function auditBillingChange(event: EventOf<'commerce.billing_changed'>, em: EntityManager): Promise<void> {
  const { tenantId, action, actorId = null, target = null, details } = event.payload;
  await audit(em, systemContext(event.id), tenantId, {
    action: `billing_${action}`,
    result: AuditResult.SUCCESS,
    actorId,
    target: target ? `billing:${target}` : 'billing',
    details,
  });
}
