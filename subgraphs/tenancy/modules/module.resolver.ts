import { Arg, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { Entitlement, ModuleView, PublishModuleInput } from './module.types';
import { ModuleService } from './module.service';
import { GatewayPolicy } from '../../../kernel/contracts/gateway-policy';

@Resolver()
export class ModuleResolver {
  private readonly service: ModuleService;
  constructor(deps: SubgraphDeps) {
    this.service = new ModuleService(deps);
  }

  @Authorized('tenants:read')
  @Query(() => [ModuleView], { description: 'The module catalog, with what the current tenant installed' })
  modules(): Promise<ModuleView[]> {
    return this.service.list(currentContext());
  }

  @GatewayPolicy('open-over-api-limit')
  @Authorized('tenants:read')
  @Query(() => [Entitlement], { description: "What the current tenant's installed modules entitle it to" })
  entitlements(): Promise<Entitlement[]> {
    return this.service.entitlements(currentContext());
  }

  @Authorized('tenants:manage')
  @Mutation(() => ModuleView, {
    description: 'Installs a module whose dependencies are installed; grants its permissions and entitlements',
  })
  installModule(@Arg('id', () => ID) id: string): Promise<ModuleView> {
    return this.service.install(currentContext(), id);
  }

  @Authorized('tenants:manage')
  @Mutation(() => Boolean, {
    description: 'Uninstalls a module no installed module depends on; its permissions go on the next request',
  })
  uninstallModule(@Arg('id', () => ID) id: string): Promise<boolean> {
    return this.service.uninstall(currentContext(), id);
  }

  @Authorized('platform:modules')
  @Mutation(() => ModuleView, {
    description: 'Platform operators: adds a module, or a newer version of one, to the catalog',
  })
  publishModule(@Arg('input', () => PublishModuleInput) input: PublishModuleInput): Promise<ModuleView> {
    return this.service.publish(input);
  }
}
