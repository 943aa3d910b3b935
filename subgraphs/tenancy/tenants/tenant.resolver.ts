import { Arg, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { SettingsService, TenantSettings, UpdateTenantSettingsInput } from '../settings/settings';
import { currentContext } from '../../../kernel/context';
import { requestLoader } from '../../../kernel/loaders';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { Membership } from './membership.entity';
import { Tenant } from './tenant.entity';
import { TenantService } from './tenant.service';
import { Onboarding } from './onboarding';
import { GatewayPolicy } from '../../../kernel/contracts/gateway-policy';

@Resolver(() => Tenant)
export class TenantResolver {
  private readonly tenants: TenantService;
  private readonly settingsService: SettingsService;
  constructor(deps: SubgraphDeps) {
    this.tenants = new TenantService(deps);
    this.settingsService = new SettingsService(deps);
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('tenants:read')
  @Query(() => Tenant, { description: 'The tenant the caller is acting in' })
  currentTenant(): Promise<Tenant> {
    return this.tenants.current(currentContext());
  }

  @Authorized('tenants:read')
  @FieldResolver(() => Onboarding, {
    nullable: true,
    description: "Setup checklist (only for the caller's own tenant)",
  })
  onboarding(@Root() tenant: Tenant): Promise<Onboarding | null> {
    return this.tenants.onboarding(currentContext(), tenant);
  }

  @Authorized('tenants:read')
  @FieldResolver(() => TenantSettings, { nullable: true, description: "Only for the caller's own tenant" })
  settings(@Root() tenant: Tenant): Promise<TenantSettings | null> {
    return tenant.id === currentContext().tenantId ? this.settingsService.get(currentContext()) : Promise.resolve(null);
  }

  @Authorized('tenants:manage')
  @Mutation(() => TenantSettings)
  updateTenantSettings(
    @Arg('input', () => UpdateTenantSettingsInput) input: UpdateTenantSettingsInput,
  ): Promise<TenantSettings> {
    return this.settingsService.update(currentContext(), input);
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
