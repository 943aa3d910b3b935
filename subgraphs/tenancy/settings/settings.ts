import { Field, InputType, ObjectType, registerEnumType } from 'type-graphql';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { recordEvent } from '../../../kernel/events';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TenancyErrorCode, tenancyError } from '../tenancy.errors';

export enum ReadReceiptPolicy {
  PUBLIC = 'public',
  PRIVATE = 'private',
}
registerEnumType(ReadReceiptPolicy, {
  name: 'ReadReceiptPolicy',
  description: 'PRIVATE: members see only their own read pointers',
});

const RESIDENCY = /^[a-z0-9][a-z0-9-]{1,31}$/;

@ObjectType()
export class TenantSettings {
  @Field(() => String, {
    nullable: true,
    description: "Where the tenant's data is to be kept (a label such as eu or us-east)",
  })
  dataResidency: string | null;

  @Field(() => ReadReceiptPolicy)
  readReceipts: ReadReceiptPolicy;
}

@InputType()
export class UpdateTenantSettingsInput {
  @Field(() => String, { nullable: true, description: 'null clears' })
  dataResidency?: string | null;

  @Field(() => ReadReceiptPolicy, { nullable: true })
  readReceipts?: ReadReceiptPolicy | null;
}

/**
 * Settings tenancy keeps for other services (messaging reads the receipt policy from the event). Sign-in
 * rules (2FA, unconfirmed members, password length) are identity's `securityPolicy`.
 */
export class SettingsService {
  constructor(private readonly deps: SubgraphDeps) {}

  get(ctx: RequestContext): Promise<TenantSettings> {
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const [row]: { data_residency: string | null; read_receipts: ReadReceiptPolicy }[] = await em.query(
        `SELECT data_residency, read_receipts FROM tenancy.settings WHERE tenant_id = $1`,
        [tenantId],
      );
      return {
        dataResidency: row?.data_residency ?? null,
        readReceipts: row?.read_receipts ?? ReadReceiptPolicy.PUBLIC,
      };
    });
  }

  async update(ctx: RequestContext, input: UpdateTenantSettingsInput): Promise<TenantSettings> {
    const current = await this.get(ctx);
    const next: TenantSettings = {
      dataResidency:
        input.dataResidency === undefined
          ? current.dataResidency
          : input.dataResidency === null
            ? null
            : input.dataResidency.trim().toLowerCase(),
      readReceipts: input.readReceipts ?? current.readReceipts,
    };
    if (next.dataResidency !== null && !RESIDENCY.test(next.dataResidency)) {
      throw tenancyError(
        TenancyErrorCode.INVALID_TENANT,
        'dataResidency is a label of 2 to 32 lower-case letters, digits and dashes',
      );
    }
    const event = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      await em.query(
        `INSERT INTO tenancy.settings (tenant_id, data_residency, read_receipts) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET data_residency = EXCLUDED.data_residency, read_receipts = EXCLUDED.read_receipts, updated_at = now()`,
        [tenantId, next.dataResidency, next.readReceipts],
      );
      return recordEvent(em, 'tenancy', {
        type: 'tenancy.settings_changed',
        tenantId,
        payload: { tenantId, ...next, actorId: ctx.userId },
      });
    });
    await this.deps.outbox.deliverNow([event]);
    return next;
  }
}
