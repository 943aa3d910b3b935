import { Arg, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { Domain } from './domain.entity';
import { DomainService } from './domain.service';

@Resolver()
export class DomainResolver {
  private readonly service: DomainService;
  constructor(deps: SubgraphDeps) {
    this.service = new DomainService(deps);
  }

  @Authorized('tenants:read')
  @Query(() => [Domain], { description: "The current tenant's custom domains" })
  domains(): Promise<Domain[]> {
    return this.service.list(currentContext());
  }

  @Authorized('tenants:manage')
  @Mutation(() => Domain, { description: 'Adds a domain; create the TXT record it returns, then call verifyDomain' })
  addDomain(@Arg('domain', () => String) domain: string): Promise<Domain> {
    return this.service.add(currentContext(), domain);
  }

  @Authorized('tenants:manage')
  @Mutation(() => Domain, {
    description: 'Looks the TXT record up now; a verified domain routes requests and SSO to this tenant',
  })
  verifyDomain(@Arg('id', () => ID) id: string): Promise<Domain> {
    return this.service.verify(currentContext(), id);
  }

  @Authorized('tenants:manage')
  @Mutation(() => Boolean)
  removeDomain(@Arg('id', () => ID) id: string): Promise<boolean> {
    return this.service.remove(currentContext(), id);
  }
}
