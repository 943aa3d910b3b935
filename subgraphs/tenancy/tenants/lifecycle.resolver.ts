import { Arg, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';
import { CreateTenantInput, MyTenant, Tenant, TenantStatus, UpdateTenantInput } from './tenant.entity';
import { TenantService } from './tenant.service';
import { GatewayPolicy } from '../../../kernel/contracts/gateway-policy';

/** Creating and changing tenants, the caller's tenants, and suspension by platform operators. */
@Resolver()
export class TenantLifecycleResolver {
  private readonly tenants: TenantService;
  constructor(deps: SubgraphDeps) {
    this.tenants = new TenantService(deps);
  }

  @Authorized('account:manage')
  @Mutation(() => Tenant, { description: 'Creates a tenant you own; use switchTenant to act in it' })
  createTenant(@Arg('input', () => CreateTenantInput) input: CreateTenantInput): Promise<Tenant> {
    return this.tenants.create(currentContext(), input);
  }

  @Authorized('tenants:manage')
  @Mutation(() => Tenant, { description: 'Renames the current tenant or changes its slug' })
  updateTenant(@Arg('input', () => UpdateTenantInput) input: UpdateTenantInput): Promise<Tenant> {
    return this.tenants.update(currentContext(), input);
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('account:read')
  @Query(() => [MyTenant], { description: 'Every tenant you belong to' })
  myTenants(): Promise<MyTenant[]> {
    return this.tenants.mine(currentContext());
  }

  @Authorized('platform:tenants')
  @Mutation(() => Tenant, {
    description:
      'Platform operators: refuses the tenant at the gateway (except status and billing) and closes its connections',
  })
  suspendTenant(
    @Arg('id', () => ID) id: string,
    @Arg('reason', () => String, { description: `Shown to the tenant's members: ${lengthRange(TEXT_LIMITS.reason)}` })
    reason: string,
  ): Promise<Tenant> {
    return this.tenants.setStatus(currentContext(), id, TenantStatus.SUSPENDED, reason);
  }

  @Authorized('platform:tenants')
  @Mutation(() => Tenant)
  reactivateTenant(@Arg('id', () => ID) id: string): Promise<Tenant> {
    return this.tenants.setStatus(currentContext(), id, TenantStatus.ACTIVE, null);
  }

  @Authorized('platform:tenants')
  @Mutation(() => Tenant, {
    description: 'Platform operators: moves the end of the trial (an expired trial becomes active again)',
  })
  extendTrial(@Arg('id', () => ID) id: string, @Arg('until', () => Date) until: Date): Promise<Tenant> {
    return this.tenants.extendTrial(currentContext(), id, until);
  }

  @Authorized('tenants:manage')
  @Mutation(() => Tenant, {
    description:
      'The owner deletes the current tenant: refused at once, purged from every service after the grace period',
  })
  deleteTenant(@Arg('id', () => ID) id: string): Promise<Tenant> {
    return this.tenants.delete(currentContext(), id);
  }

  @GatewayPolicy('open-while-deleted')
  @Authorized('tenants:manage')
  @Mutation(() => Tenant, { description: 'The owner restores a deleted tenant before its purge' })
  restoreTenant(@Arg('id', () => ID) id: string): Promise<Tenant> {
    return this.tenants.restore(currentContext(), id);
  }
}
