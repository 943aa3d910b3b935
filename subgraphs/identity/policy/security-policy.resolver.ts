import { Arg, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { MyAccess, TenantSecurityPolicy, UpdateSecurityPolicyInput } from './security-policy.entity';
import { SecurityPolicyService } from './security-policy.service';
import { GatewayPolicy } from '../../../kernel/contracts/gateway-policy';

@Resolver()
export class SecurityPolicyResolver {
  private readonly policies: SecurityPolicyService;
  constructor(deps: SubgraphDeps) {
    this.policies = new SecurityPolicyService(deps);
  }

  @Authorized('tenants:read')
  @Query(() => TenantSecurityPolicy, { description: "The current tenant's sign-in rules for its members" })
  securityPolicy(): Promise<TenantSecurityPolicy> {
    return this.policies.get(currentContext());
  }

  @Authorized('tenants:manage')
  @Mutation(() => TenantSecurityPolicy, {
    description: 'Changes the sign-in rules; applies to every member on their next request',
  })
  updateSecurityPolicy(
    @Arg('input', () => UpdateSecurityPolicyInput) input: UpdateSecurityPolicyInput,
  ): Promise<TenantSecurityPolicy> {
    return this.policies.update(currentContext(), input);
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('account:read')
  @Query(() => MyAccess, { description: 'Your roles, permissions and any restriction in the current tenant' })
  myAccess(): MyAccess {
    const ctx = currentContext();
    return { roles: ctx.roles, permissions: ctx.permissions, restrictions: ctx.restrictions ?? [] };
  }
}
