import { Arg, Int, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { AuditEventConnection, AuditLogFilter } from './audit-event.entity';
import { AuditService } from './audit.service';

@Resolver()
export class AuditResolver {
  private readonly audit: AuditService;
  constructor(deps: SubgraphDeps) {
    this.audit = new AuditService(deps.ds);
  }

  @Authorized('audit:read')
  @Query(() => AuditEventConnection, { description: "The tenant's security audit log, newest first" })
  auditLog(
    @Arg('filter', () => AuditLogFilter, { nullable: true }) filter?: AuditLogFilter | null,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<AuditEventConnection> {
    return this.audit.list(currentContext(), filter, first, after);
  }
}
