import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withSystem, withTenant } from '../../../kernel/db/tenant-scope';
import { logger } from '../../../kernel/log';
import { IdentityErrorCode, identityError } from '../identity.errors';
import { AuditEvent, AuditResult, type AuditEventConnection, type AuditLogFilter } from './audit-event.entity';
import { isUuid } from '../../../kernel/db/values';
import { storableJson, storableText } from '../../../kernel/text';

export interface AuditEntry {
  action: string;
  result: AuditResult;
  actorId?: string | null;
  target?: string | null;
  details?: Record<string, unknown>;
}

const log = logger('identity.audit');
const PAGE_MAX = 100;

/**
 * Writes an audit event in the caller's transaction (it commits or rolls back with the change). Text it
 * records (targets, details, the client's user agent) is made storable first — a NUL or an unpaired
 * surrogate in what a caller sent must never make the record of their attempt fail to write.
 */
export async function audit(
  em: EntityManager,
  ctx: RequestContext,
  tenantId: string,
  entry: AuditEntry,
): Promise<void> {
  const text = (value: string | null | undefined) =>
    value === null || value === undefined ? null : storableText(value);
  await em.insert(AuditEvent, {
    tenantId,
    id: randomUUID(),
    occurredAt: new Date(),
    actorId: entry.actorId === undefined ? ctx.userId : entry.actorId,
    action: storableText(entry.action),
    target: text(entry.target),
    result: entry.result,
    ip: text(ctx.client?.ip),
    userAgent: text(ctx.client?.userAgent),
    details: storableJson(entry.details ?? {}) as AuditEvent['details'] & object,
    impersonatorId: ctx.impersonatorId ?? null,
  });
  log.info({ tenantId, action: entry.action, result: entry.result, target: entry.target ?? null }, 'audit');
}

/** For refusals: the change rolls back, the audit entry must not (a write that fails anyway is logged as an error). */
export async function auditSeparately(
  ds: DataSource,
  ctx: RequestContext,
  tenantId: string,
  entry: AuditEntry,
): Promise<void> {
  await withTenant(ds, { ...ctx, tenantId }, (em) => audit(em, ctx, tenantId, entry)).catch((err) =>
    log.error(
      { err, tenantId, action: entry.action, result: entry.result, target: entry.target ?? null },
      'audit write failed',
    ),
  );
}

export class AuditService {
  constructor(private readonly ds: DataSource) {}

  /** The tenant's audit log, newest first, with filters and a cursor. */
  list(
    ctx: RequestContext,
    filter: AuditLogFilter | null | undefined,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<AuditEventConnection> {
    return withTenant(this.ds, ctx, (em, tenantId) => page(em, tenantId, filter, first, after));
  }

  /** Every tenant's audit log (or one tenant's), for platform Super Admins: the logged system path. */
  listAcrossTenants(
    filter: (AuditLogFilter & { tenantId?: string | null }) | null | undefined,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<AuditEventConnection> {
    if (filter?.tenantId && !isUuid(filter.tenantId))
      return Promise.resolve({ edges: [], hasNextPage: false, endCursor: null, count: 0 });
    return withSystem(this.ds, 'platform audit log', (em) => page(em, filter?.tenantId ?? null, filter, first, after));
  }
}

async function page(
  em: EntityManager,
  tenantId: string | null,
  filter: AuditLogFilter | null | undefined,
  first: number | null | undefined,
  after: string | null | undefined,
): Promise<AuditEventConnection> {
  const limit = Math.max(1, Math.min(first ?? 50, PAGE_MAX));
  const cursor = after ? decode(after) : null;
  const qb = em
    .createQueryBuilder(AuditEvent, 'a')
    .orderBy('a.occurred_at', 'DESC')
    .addOrderBy('a.id', 'DESC')
    .limit(limit + 1);
  if (tenantId) qb.andWhere('a.tenant_id = :tenantId', { tenantId });
  if (filter?.action) qb.andWhere('a.action = :action', { action: filter.action });
  if (filter?.actorId) qb.andWhere('a.actor_id = :actorId', { actorId: filter.actorId });
  if (filter?.result) qb.andWhere('a.result = :result', { result: filter.result });
  if (filter?.since) qb.andWhere('a.occurred_at >= :since', { since: filter.since });
  if (filter?.until) qb.andWhere('a.occurred_at < :until', { until: filter.until });
  if (cursor) qb.andWhere('(a.occurred_at, a.id) < (:at::timestamptz, :id::uuid)', cursor);
  const rows = await qb.getMany();
  const edges = rows.slice(0, limit).map((node) => ({ cursor: encode(node), node }));
  return { edges, hasNextPage: rows.length > limit, endCursor: edges.at(-1)?.cursor ?? null, count: edges.length };
}

function encode(e: AuditEvent): string {
  return Buffer.from(JSON.stringify([e.occurredAt.toISOString(), e.id])).toString('base64url');
}

function decode(cursor: string): { at: string; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    if (Number.isNaN(Date.parse(at)) || !isUuid(id)) throw new Error('bad cursor');
    return { at, id };
  } catch {
    throw identityError(IdentityErrorCode.INVALID_CURSOR);
  }
}
