import { Arg, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized, Public } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { DomainService } from '../domains/domain.service';
import { TenantBranding, UpdateBrandingInput } from './branding.entity';
import { BrandingService } from './branding.service';

@Resolver()
export class BrandingResolver {
  private readonly branding: BrandingService;
  private readonly domains: DomainService;
  constructor(deps: SubgraphDeps) {
    this.branding = new BrandingService(deps);
    this.domains = new DomainService(deps);
  }

  @Public()
  @Query(() => TenantBranding, {
    nullable: true,
    description:
      "A tenant's branding before sign-in: by slug, by verified domain, or (neither given) the tenant of this request's custom domain",
  })
  async tenantBranding(
    @Arg('slug', () => String, { nullable: true }) slug?: string | null,
    @Arg('domain', () => String, { nullable: true }) domain?: string | null,
  ): Promise<TenantBranding | null> {
    if (slug) return this.branding.publicBranding({ slug });
    if (domain) {
      const owner = await this.domains.ownerOf(domain);
      return owner ? this.branding.publicBranding(owner) : null;
    }
    return this.branding.publicBranding({ tenantId: currentContext().tenantId });
  }

  @Authorized('tenants:manage')
  @Mutation(() => TenantBranding, { description: 'Omitted fields stay, null clears' })
  updateBranding(@Arg('input', () => UpdateBrandingInput) input: UpdateBrandingInput): Promise<TenantBranding> {
    return this.branding.update(currentContext(), input);
  }
}
