import { Authorized, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import { currentContext } from '../../../kernel/context';
import { requestLoader } from '../../../kernel/loaders';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { Membership } from './membership.entity';
import { Tenant } from './tenant.entity';
import { TenantService } from './tenant.service';

@Resolver(() => Tenant)
export class TenantResolver {
  private readonly tenants: TenantService;
  constructor(deps: SubgraphDeps) {
    this.tenants = new TenantService(deps);
  }

  @Authorized('tenants:read')
  @Query(() => Tenant, { description: 'The tenant the caller is acting in' })
  currentTenant(): Promise<Tenant> {
    return this.tenants.current(currentContext());
  }

  @Authorized('tenants:read')
  @FieldResolver(() => [Membership])
  members(@Root() tenant: Tenant): Promise<Membership[]> {
    return this.tenants.members(currentContext(), tenant);
  }
}

export function tenantReferenceResolver(deps: SubgraphDeps) {
  const tenants = new TenantService(deps);
  return {
    Tenant: {
      __resolveReference: (ref: { id: string }) =>
        requestLoader<Tenant>('tenancy.tenant', (ids) => tenants.byIds(currentContext(), ids)).load(ref.id),
    },
  };
}
