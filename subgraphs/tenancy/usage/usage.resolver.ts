import { Arg, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TenantLimitsInput, TenantUsage } from './usage.types';
import { UsageService } from './usage.service';
import { GatewayPolicy } from '../../../kernel/contracts/gateway-policy';

@Resolver()
export class UsageResolver {
  private readonly service: UsageService;
  constructor(deps: SubgraphDeps) {
    this.service = new UsageService(deps);
  }

  @GatewayPolicy('open-over-api-limit')
  @Authorized('tenants:manage')
  @Query(() => TenantUsage, {
    description: "The current tenant's usage and limits in a month (YYYY-MM, default this one)",
  })
  usage(@Arg('period', () => String, { nullable: true }) period?: string | null): Promise<TenantUsage> {
    return this.service.usage(currentContext(), period);
  }

  @Authorized('platform:tenants')
  @Query(() => TenantUsage, { description: "Platform operators: any tenant's usage and limits" })
  tenantUsage(
    @Arg('tenantId', () => ID) tenantId: string,
    @Arg('period', () => String, { nullable: true }) period?: string | null,
  ): Promise<TenantUsage> {
    return this.service.tenantUsage(tenantId, period);
  }

  @Authorized('platform:tenants')
  @Mutation(() => TenantUsage, {
    description: "Platform operators: sets a tenant's plan-of-record limits (omitted ones stay)",
  })
  setTenantLimits(
    @Arg('tenantId', () => ID) tenantId: string,
    @Arg('limits', () => TenantLimitsInput) limits: TenantLimitsInput,
  ): Promise<TenantUsage> {
    return this.service.setLimits(tenantId, limits);
  }
}
