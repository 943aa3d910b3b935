import { TenantAdmission } from './admission';
import { ApiKeyAuthenticator } from './api-keys';
import type { AuthSettings } from './authenticate';
import type { GatewayOptions } from './gateway';
import { HostTenantResolver } from './host-tenant';
import { InternalClient } from './internal-client';
import { PermissionResolver, RIGHTS_CACHE_MS } from './permissions';
import type { FieldPolicies } from './policies';
import { RevocationFeed } from './revocations';
import { AccessGuard } from './subscriptions/sessions';
import { TenantStatusResolver } from './tenant-status';
import { UsageMeter } from './usage';

/** What the gateway knows of callers and tenants, kept current from identity's and tenancy's announcements. */
export interface GatewayServices {
  /** Subgraph URLs, known once the supergraph is loaded (by subgraph name). */
  subgraphUrls: Map<string, string>;
  /** How callers are authenticated (bearer tokens, and API keys through identity). */
  auth: AuthSettings;
  guard: AccessGuard;
  tenantStatus: TenantStatusResolver;
  hosts: HostTenantResolver;
  usage: UsageMeter;
  admission: TenantAdmission;
  apiKeys: ApiKeyAuthenticator;
  permissions: PermissionResolver;
  revocations: RevocationFeed;
  /** Stops the caches' listeners (usage is flushed separately, after the last request: `usage.close()`). */
  closeCaches(): void;
}

export function createGatewayServices(options: GatewayOptions, policies: () => FieldPolicies): GatewayServices {
  const subgraphUrls = new Map<string, string>();
  const guard = new AccessGuard(options.pubsub, options.accessTokenTtlSeconds * 1000);
  const identity = new InternalClient('identity', () => subgraphUrls.get('identity'), options.contextPrivateKey);
  const tenancy = new InternalClient('tenancy', () => subgraphUrls.get('tenancy'), options.contextPrivateKey);
  const tenantStatus = new TenantStatusResolver(tenancy, guard, options.pubsub);
  const hosts = new HostTenantResolver(tenancy, options.pubsub);
  const usage = new UsageMeter(tenancy, options.usageFlushMs ?? 5_000, options.pubsub);
  const admission = new TenantAdmission(tenantStatus, usage, policies);
  const apiKeys = new ApiKeyAuthenticator(identity, options.apiKeyRatePerMinute ?? 600, options.pubsub);
  const permissions = new PermissionResolver(identity, options.pubsub);
  const revocations = new RevocationFeed(identity, guard, options.pubsub, {
    pollMs: options.revocationPollMs ?? 2_000,
    accessTokenTtlMs: options.accessTokenTtlSeconds * 1000,
    announced: options.revocationsAnnounced ?? false,
    trustAnnouncementsMs: RIGHTS_CACHE_MS,
    pageSize: options.revocationPageSize,
    onApiKeyRevoked: (prefix) => apiKeys.forget(prefix),
  });
  const closeCaches = () => {
    guard.close();
    apiKeys.close();
    permissions.close();
    tenantStatus.close();
    hosts.close();
  };
  const auth = { ...options.auth, apiKeys };
  return {
    subgraphUrls,
    auth,
    guard,
    tenantStatus,
    hosts,
    usage,
    admission,
    apiKeys,
    permissions,
    revocations,
    closeCaches,
  };
}
