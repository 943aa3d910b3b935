import { Arg, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { ExportService, TenantExport } from './export';

@Resolver()
export class ExportResolver {
  private readonly service: ExportService;
  constructor(deps: SubgraphDeps) {
    this.service = new ExportService(deps);
  }

  @Authorized('tenants:manage')
  @Mutation(() => TenantExport, {
    description: "Owner: a JSON export of all the tenant's data across the services, assembled in the background",
  })
  requestTenantExport(): Promise<TenantExport> {
    return this.service.request(currentContext());
  }

  @Authorized('tenants:manage')
  @Query(() => [TenantExport], { description: 'Exports of the current tenant, newest first (without their data)' })
  tenantExports(): Promise<TenantExport[]> {
    return this.service.list(currentContext());
  }

  @Authorized('tenants:manage')
  @Query(() => TenantExport, { description: 'One export; its parts once every service has sent its data' })
  tenantExport(@Arg('id', () => ID) id: string): Promise<TenantExport> {
    return this.service.get(currentContext(), id);
  }
}
