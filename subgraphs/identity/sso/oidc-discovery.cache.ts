import type * as Oidc from 'openid-client';
import { dataKey } from '../../../kernel/keys';
import { openSecret } from '../../../kernel/secret-box';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { DISCOVERY_TTL_MS } from './sso-login.constants';
import {
  discover,
  localProvidersAllowed,
  sealContext,
  type ConnectionRow,
  type OidcSettings,
} from './sso-connections.service';

/** Each OIDC connection's client configuration (its provider's discovery document), kept for a while. */
export class OidcDiscoveryCache {
  private readonly discovered = new Map<string, { at: number; config: Promise<Oidc.Configuration> }>();

  constructor(private readonly deps: SubgraphDeps) {}

  config(connection: ConnectionRow): Promise<Oidc.Configuration> {
    const cached = this.discovered.get(connection.id);
    if (cached && Date.now() - cached.at < DISCOVERY_TTL_MS) return cached.config;
    const settings = connection.settings as OidcSettings;
    const secret = openSecret(
      dataKey(this.deps.keys),
      connection.secret_sealed ?? '',
      sealContext(connection.tenant_id, connection.id),
    );
    const config = discover(settings.issuer, settings.clientId, secret, localProvidersAllowed(this.deps.config));
    this.discovered.set(connection.id, { at: Date.now(), config });
    config.catch(() => this.discovered.delete(connection.id));
    return config;
  }
}
