import { Arg, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized, Public } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { AuthPayload } from '../auth/auth.inputs';
import { SsoConnectionService } from './sso-connections.service';
import { SsoLoginService } from './sso-login.service';
import { OidcConnectionInput, SamlConnectionInput, SsoConnection, UpdateSsoConnectionInput } from './sso.types';

@Resolver()
export class SsoResolver {
  private readonly connections: SsoConnectionService;
  private readonly login: SsoLoginService;
  constructor(deps: SubgraphDeps) {
    this.connections = new SsoConnectionService(deps);
    this.login = new SsoLoginService(deps);
  }

  @Authorized('sso:manage')
  @Query(() => [SsoConnection], { description: "The tenant's single sign-on connections" })
  ssoConnections(): Promise<SsoConnection[]> {
    return this.connections.list(currentContext());
  }

  @Authorized('sso:manage')
  @Mutation(() => SsoConnection, {
    description: 'A SAML 2.0 identity provider (from its metadata, or entity id + SSO URL + certificate)',
  })
  createSamlConnection(@Arg('input', () => SamlConnectionInput) input: SamlConnectionInput): Promise<SsoConnection> {
    return this.connections.createSaml(currentContext(), input);
  }

  @Authorized('sso:manage')
  @Mutation(() => SsoConnection, {
    description: 'An OpenID Connect provider; its discovery document is read when saved',
  })
  createOidcConnection(@Arg('input', () => OidcConnectionInput) input: OidcConnectionInput): Promise<SsoConnection> {
    return this.connections.createOidc(currentContext(), input);
  }

  @Authorized('sso:manage')
  @Mutation(() => SsoConnection, {
    description:
      'Renames, enables or disables a connection, or changes its role mapping, default role, allowed domains or redirect URL; custom roles it gave and no longer gives are taken back at once',
  })
  updateSsoConnection(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateSsoConnectionInput) input: UpdateSsoConnectionInput,
  ): Promise<SsoConnection> {
    return this.connections.update(currentContext(), id, input);
  }

  @Authorized('sso:manage')
  @Mutation(() => Boolean, { description: 'Deletes a connection; custom roles it gave are taken back at once' })
  deleteSsoConnection(@Arg('id', () => ID) id: string): Promise<boolean> {
    return this.connections.delete(currentContext(), id);
  }

  @Public()
  @Mutation(() => AuthPayload, {
    description: 'Exchanges the one-time code a finished single sign-on redirected with (valid 60 s, once) for tokens',
  })
  completeSsoLogin(@Arg('code', () => String) code: string): Promise<AuthPayload> {
    return this.login.complete(currentContext(), code);
  }
}
