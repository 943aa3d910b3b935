import type { SubgraphDefinition } from '../../kernel/subgraph';
import { TenancyInit1763683200000 } from '../../migrations/tenancy/1763683200000-tenancy-init';
import { Membership } from './tenants/membership.entity';
import { Tenant } from './tenants/tenant.entity';
import { TenantResolver, tenantReferenceResolver } from './tenants/tenant.resolver';
import {
  PURGE_JOB,
  TRIAL_EXPIRY_JOB,
  TenantService,
  addMember,
  purgeJob,
  removeMember,
  trialExpiryJob,
} from './tenants/tenant.service';
import { TenancyTrialDeletion1764720000000 } from '../../migrations/tenancy/1764720000000-tenancy-trial-deletion';
import { TenancyModules1764806400000 } from '../../migrations/tenancy/1764806400000-tenancy-modules';
import { TenancyUsage1764892800000 } from '../../migrations/tenancy/1764892800000-tenancy-usage';
import { TenancySettings1764979200000 } from '../../migrations/tenancy/1764979200000-tenancy-settings';
import { TenancyExports1765065600000 } from '../../migrations/tenancy/1765065600000-tenancy-exports';
import { TenancyPlanGrants1765800000000 } from '../../migrations/tenancy/1765800000000-tenancy-plan-grants';
import { billingStandingConsumer, planGrantConsumer } from './billing/plan-grants.consumer';
import { ExportResolver } from './export/export.resolver';
import { storeExportPart } from './export/export';
import { consumer, TENANT_EXPORT_PART_EVENT } from '../../kernel/contracts/events';
import { UsageResolver } from './usage/usage.resolver';
import { UsageService } from './usage/usage.service';
import { ModuleResolver } from './modules/module.resolver';
import { ModuleService } from './modules/module.service';
import { TenantLifecycleResolver } from './tenants/lifecycle.resolver';
import { TenancyLifecycle1764547200000 } from '../../migrations/tenancy/1764547200000-tenancy-lifecycle';
import { TenancyDomainsBranding1764633600000 } from '../../migrations/tenancy/1764633600000-tenancy-domains-branding';
import { Branding } from './branding/branding.entity';
import { BrandingResolver } from './branding/branding.resolver';
import { Domain } from './domains/domain.entity';
import { DomainResolver } from './domains/domain.resolver';
import { DomainService } from './domains/domain.service';
import { logger } from '../../kernel/log';

const log = logger('tenancy');

/** Tenants and who belongs to them. */
export const tenancySubgraph: SubgraphDefinition = {
  name: 'tenancy',
  entities: [Tenant, Membership, Domain, Branding],
  migrations: [
    TenancyInit1763683200000,
    TenancyLifecycle1764547200000,
    TenancyDomainsBranding1764633600000,
    TenancyTrialDeletion1764720000000,
    TenancyModules1764806400000,
    TenancyUsage1764892800000,
    TenancySettings1764979200000,
    TenancyExports1765065600000,
    TenancyPlanGrants1765800000000,
  ],
  resolvers: [
    TenantResolver,
    TenantLifecycleResolver,
    DomainResolver,
    BrandingResolver,
    ModuleResolver,
    UsageResolver,
    ExportResolver,
  ],
  referenceResolvers: tenantReferenceResolver,
  consumers: (deps) => [
    consumer({
      name: 'provision-tenant',
      types: ['identity.tenant_registered'],
      handle: (e, em) => TenantService.provision(e, em, deps.config.tenancy.TRIAL_PERIOD_SECONDS),
    }),
    consumer({ name: 'add-member', types: ['identity.member_added'], handle: addMember }),
    consumer({ name: 'remove-member', types: ['identity.member_removed'], handle: removeMember }),
    consumer({ name: 'export-part', types: [TENANT_EXPORT_PART_EVENT], handle: storeExportPart }),
    planGrantConsumer(deps),
    billingStandingConsumer(deps),
  ],
  jobs: (deps) => ({ [TRIAL_EXPIRY_JOB]: trialExpiryJob(deps), [PURGE_JOB]: purgeJob(deps) }),
  internal: (deps) => {
    const tenants = new TenantService(deps);
    const domains = new DomainService(deps);
    const usage = new UsageService(deps);
    return {
      'record-usage': (batch) => usage.record(batch),
      'quota-status': ({ tenantId }) => usage.status(tenantId),
      'tenant-status': ({ tenantId }) => tenants.status(tenantId),
      'tenant-for-host': ({ host }) => domains.ownerOf(host),
    };
  },
  // Verified domains are checked again every DOMAIN_RECHECK_SECONDS.
  background: (deps) => {
    void new ModuleService(deps).seedBuiltIns().catch((err) => log.error({ err }, 'seeding built-in modules failed'));
    const domains = new DomainService(deps);
    const every = Math.min(deps.config.domains.DOMAIN_RECHECK_SECONDS, 60) * 1000;
    let running: Promise<unknown> = Promise.resolve();
    const timer = setInterval(() => {
      running = domains.recheckDue().catch((err) => log.error({ err }, 'domain re-verification failed'));
    }, every);
    timer.unref();
    return {
      async stop() {
        clearInterval(timer);
        await running;
      },
    };
  },
};
