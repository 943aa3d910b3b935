import { randomUUID } from 'node:crypto';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { EntityManager } from 'typeorm';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { isUuid } from '../../../kernel/db/values';
import { forbidden } from '../../../kernel/errors';
import { recordEvent } from '../../../kernel/events';
import { TENANT_EXPORT_REQUESTED_EVENT, type EventOf } from '../../../kernel/contracts/events';
import { SUBGRAPHS } from '../../../kernel/services';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TenancyErrorCode, tenancyError } from '../tenancy.errors';

export enum ExportStatus {
  PENDING = 'pending',
  READY = 'ready',
}
registerEnumType(ExportStatus, { name: 'ExportStatus' });

@ObjectType()
export class ExportPart {
  @Field(() => String)
  subgraph: string;

  @Field(() => GraphQLJSONObject, { description: 'Table name → rows (secrets such as hashes and tokens left out)' })
  tables: Record<string, unknown>;
}

@ObjectType()
export class TenantExport {
  @Field(() => ID)
  id: string;

  @Field(() => ExportStatus)
  status: ExportStatus;

  @Field(() => Date)
  requestedAt: Date;

  @Field(() => Date, { nullable: true })
  completedAt: Date | null;

  @Field(() => [String], { description: 'Subgraphs whose part has arrived' })
  received: string[];

  @Field(() => [ExportPart], { nullable: true, description: 'The data, once every subgraph sent its part' })
  parts: ExportPart[] | null;
}

/**
 * Full JSON exports of a tenant's data: the owner asks, every subgraph answers with its part (kernel
 * consumer, kernel/db/export.ts), and the export is ready when all parts are in.
 */
export class ExportService {
  constructor(private readonly deps: SubgraphDeps) {}

  async request(ctx: RequestContext): Promise<TenantExport> {
    if (!ctx.roles.includes('owner')) throw forbidden('Only an owner can export the tenant');
    const id = randomUUID();
    await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      await em.query(`INSERT INTO tenancy.exports (tenant_id, id, requested_by) VALUES ($1, $2, $3)`, [
        tenantId,
        id,
        ctx.userId,
      ]);
      await recordEvent(em, 'tenancy', {
        type: TENANT_EXPORT_REQUESTED_EVENT,
        tenantId,
        payload: { tenantId, exportId: id },
      });
    });
    // Published now; the parts arrive as each subgraph answers (the export is a job, not a request).
    await this.deps.outbox.flush();
    return this.get(ctx, id);
  }

  list(ctx: RequestContext): Promise<TenantExport[]> {
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const rows: { id: string }[] = await em.query(
        `SELECT id FROM tenancy.exports WHERE tenant_id = $1 ORDER BY requested_at DESC`,
        [tenantId],
      );
      return Promise.all(rows.map((r) => view(em, tenantId, r.id, false)));
    });
  }

  async get(ctx: RequestContext, id: string): Promise<TenantExport> {
    if (!isUuid(id)) throw tenancyError(TenancyErrorCode.EXPORT_NOT_FOUND);
    return withTenant(this.deps.ds, ctx, (em, tenantId) => view(em, tenantId, id, true));
  }
}

async function view(em: EntityManager, tenantId: string, id: string, withData: boolean): Promise<TenantExport> {
  const [row]: { id: string; requested_at: Date; completed_at: Date | null }[] = await em.query(
    `SELECT id, requested_at, completed_at FROM tenancy.exports WHERE tenant_id = $1 AND id = $2`,
    [tenantId, id],
  );
  if (!row) throw tenancyError(TenancyErrorCode.EXPORT_NOT_FOUND);
  const parts: { subgraph: string; data: Record<string, unknown> }[] = await em.query(
    `SELECT subgraph, ${withData ? 'data' : `'{}'::jsonb AS data`} FROM tenancy.export_parts WHERE tenant_id = $1 AND export_id = $2 ORDER BY subgraph`,
    [tenantId, id],
  );
  const ready = row.completed_at !== null;
  return {
    id,
    status: ready ? ExportStatus.READY : ExportStatus.PENDING,
    requestedAt: row.requested_at,
    completedAt: row.completed_at,
    received: parts.map((p) => p.subgraph),
    parts: ready && withData ? parts.map((p) => ({ subgraph: p.subgraph, tables: p.data })) : null,
  };
}

/** Consumer of each subgraph's part: stored; the export is complete when every subgraph has answered. */
export async function storeExportPart(event: EventOf<'platform.tenant_export_part'>, em: EntityManager): Promise<void> {
  const p = event.payload;
  await em.query(
    `INSERT INTO tenancy.export_parts (tenant_id, export_id, subgraph, data) SELECT $1, $2, $3, $4
      WHERE EXISTS (SELECT 1 FROM tenancy.exports WHERE tenant_id = $1 AND id = $2)
     ON CONFLICT (tenant_id, export_id, subgraph) DO NOTHING`,
    [p.tenantId, p.exportId, p.subgraph, JSON.stringify(p.tables)],
  );
  await em.query(
    `UPDATE tenancy.exports SET completed_at = now()
      WHERE tenant_id = $1 AND id = $2 AND completed_at IS NULL
        AND (SELECT count(*) FROM tenancy.export_parts WHERE tenant_id = $1 AND export_id = $2) >= $3`,
    [p.tenantId, p.exportId, SUBGRAPHS.length],
  );
}
