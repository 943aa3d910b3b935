import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TEXT_LIMITS, cleanName, lengthRange } from '../../../kernel/text';
import { IntelligenceErrorCode, intelligenceError } from '../intelligence.errors';
import { Document, type CreateDocumentInput } from './document.entity';

export class DocumentService {
  constructor(private readonly deps: SubgraphDeps) {}

  create(ctx: RequestContext, input: CreateDocumentInput): Promise<Document> {
    const title = cleanName(input.title ?? '');
    const content = input.content ?? '';
    if (title.length < 1 || title.length > TEXT_LIMITS.documentTitle) {
      throw intelligenceError(
        IntelligenceErrorCode.INVALID_DOCUMENT,
        `Title must be ${lengthRange(TEXT_LIMITS.documentTitle)}`,
      );
    }
    if (content.trim().length < 1 || content.length > TEXT_LIMITS.documentContent) {
      throw intelligenceError(
        IntelligenceErrorCode.INVALID_DOCUMENT,
        `Content must be ${lengthRange(TEXT_LIMITS.documentContent)}`,
      );
    }
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const id = randomUUID();
      await em.insert(Document, { tenantId, id, title, content, embedded: false });
      return em.findOneByOrFail(Document, { tenantId, id });
    });
  }

  list(ctx: RequestContext): Promise<Document[]> {
    return withTenant(this.deps.ds, ctx, (em, tenantId) =>
      em.find(Document, { where: { tenantId }, order: { createdAt: 'DESC' } }),
    );
  }
}
