import { randomUUID } from 'node:crypto';
import { In } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { CommerceErrorCode, commerceError } from '../commerce.errors';
import { Product, type CreateProductInput } from './product.entity';
import { isUuid } from '../../../kernel/db/values';
import { TEXT_LIMITS, cleanName, lengthRange } from '../../../kernel/text';

export class ProductService {
  constructor(private readonly deps: SubgraphDeps) {}

  create(ctx: RequestContext, input: CreateProductInput): Promise<Product> {
    const name = cleanName(input.name ?? '');
    const currency = (input.currency ?? '').toUpperCase();
    if (name.length < 1 || name.length > TEXT_LIMITS.productName)
      throw commerceError(CommerceErrorCode.INVALID_PRODUCT, `Name must be ${lengthRange(TEXT_LIMITS.productName)}`);
    if (!Number.isInteger(input.priceCents) || input.priceCents < 0) {
      throw commerceError(CommerceErrorCode.INVALID_PRODUCT, 'Price must be a non-negative integer amount');
    }
    if (!/^[A-Z]{3}$/.test(currency))
      throw commerceError(CommerceErrorCode.INVALID_PRODUCT, 'Currency must be an ISO 4217 code');
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const id = randomUUID();
      await em.insert(Product, { tenantId, id, name, priceCents: input.priceCents, currency });
      return em.findOneByOrFail(Product, { tenantId, id });
    });
  }

  list(ctx: RequestContext): Promise<Product[]> {
    return withTenant(this.deps.ds, ctx, (em, tenantId) =>
      em.find(Product, { where: { tenantId }, order: { createdAt: 'ASC' } }),
    );
  }

  async byIds(ctx: RequestContext, ids: readonly string[]): Promise<(Product | null)[]> {
    const rows = await withTenant(this.deps.ds, ctx, (em, tenantId) =>
      em.findBy(Product, { tenantId, id: In(ids.filter(isUuid)) }),
    );
    const byId = new Map(rows.map((p) => [p.id, p]));
    return ids.map((id) => byId.get(id) ?? null);
  }
}
