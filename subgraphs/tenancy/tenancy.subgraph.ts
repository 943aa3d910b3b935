import type { SubgraphDefinition } from '../../kernel/subgraph';
import { TenancyInit1763683200000 } from '../../migrations/tenancy/1763683200000-tenancy-init';
import { Membership } from './tenants/membership.entity';
import { Tenant } from './tenants/tenant.entity';
import { TenantResolver, tenantReferenceResolver } from './tenants/tenant.resolver';
import { TenantService, addMember, removeMember } from './tenants/tenant.service';
import { TenantLifecycleResolver } from './tenants/lifecycle.resolver';
import { TenancyLifecycle1764547200000 } from '../../migrations/tenancy/1764547200000-tenancy-lifecycle';

/** Tenants and who belongs to them. */
export const tenancySubgraph: SubgraphDefinition = {
  name: 'tenancy',
  entities: [Tenant, Membership],
  migrations: [TenancyInit1763683200000, TenancyLifecycle1764547200000],
  resolvers: [TenantResolver, TenantLifecycleResolver],
  referenceResolvers: tenantReferenceResolver,
  consumers: () => [
    { name: 'provision-tenant', types: ['identity.tenant_registered'], handle: TenantService.provision },
    { name: 'add-member', types: ['identity.member_added'], handle: addMember },
    { name: 'remove-member', types: ['identity.member_removed'], handle: removeMember },
  ],
  internal: (deps) => {
    const tenants = new TenantService(deps);
    return { 'tenant-status': (body) => tenants.status((body as { tenantId?: string })?.tenantId ?? '') };
  },
};
