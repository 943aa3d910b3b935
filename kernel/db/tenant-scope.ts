import type { DataSource, EntityManager } from 'typeorm';
import type { RequestContext } from '../context';
import { AppError, KernelErrorCode } from '../errors';
import { logger } from '../log';
import { APP_ROLE } from './roles';

/**
 * The only doors to tenant-owned tables.
 *
 * `withTenant` opens a transaction, drops to the unprivileged runtime role and sets the tenant (and user)
 * with transaction-local settings only, so nothing leaks to the next user of a pooled connection. RLS
 * policies then confine every statement to that tenant; services also filter by tenant_id explicitly.
 */
export async function withTenant<T>(
  ds: DataSource,
  ctx: RequestContext,
  work: (em: EntityManager, tenantId: string) => Promise<T>,
): Promise<T> {
  const tenantId = ctx.tenantId;
  if (!tenantId) throw new AppError(KernelErrorCode.TENANT_REQUIRED, 'This operation needs a tenant');
  return ds.transaction(async (em) => {
    await scope(em, tenantId, ctx.userId ?? '');
    return work(em, tenantId);
  });
}

/**
 * Turns an open system transaction (an event consumer's, a job's) into what `withTenant` opens: the runtime role with
 * the tenant set, for the rest of the transaction or until `leaveTenantScope`.
 */
export async function enterTenantScope(em: EntityManager, tenantId: string): Promise<void> {
  await scope(em, tenantId, '');
}

/** Back to the schema owner, no tenant: e.g. for a job runner that marks its job done after tenant work. */
export async function leaveTenantScope(em: EntityManager): Promise<void> {
  await em.query(`SELECT set_config('role', 'none', true), set_config('app.tenant_id', '', true)`);
}

/** One round trip: `set_config('role', …, true)` is SET LOCAL ROLE; all three settings end with the transaction. */
async function scope(em: EntityManager, tenantId: string, userId: string): Promise<void> {
  await em.query(
    `SELECT set_config('role', $1, true), set_config('app.tenant_id', $2, true), set_config('app.user_id', $3, true)`,
    [APP_ROLE, tenantId, userId],
  );
}

/**
 * For rows that belong to one user across tenants (an account, its memberships): runtime role, no
 * tenant, only `app.user_id` set. Policies decide what a user may see of their own rows.
 */
export async function withUser<T>(ds: DataSource, userId: string, work: (em: EntityManager) => Promise<T>): Promise<T> {
  return ds.transaction(async (em) => {
    await scope(em, '', userId);
    return work(em);
  });
}

const audit = logger('db.system');

/**
 * The one explicit path that acts across tenants (platform jobs, event consumers creating a tenant's
 * first rows). Runs as the schema owner; every use is logged with its reason.
 */
export async function withSystem<T>(
  ds: DataSource,
  reason: string,
  work: (em: EntityManager) => Promise<T>,
  level: 'info' | 'debug' = 'info',
): Promise<T> {
  audit[level]({ reason, schema: (ds.options as { schema?: string }).schema ?? null }, 'system access');
  return ds.transaction(work);
}

/** Runtime role with neither tenant nor user: for public lookups through narrow SECURITY DEFINER functions. */
export async function withNoTenant<T>(ds: DataSource, work: (em: EntityManager) => Promise<T>): Promise<T> {
  return ds.transaction(async (em) => {
    await scope(em, '', '');
    return work(em);
  });
}
