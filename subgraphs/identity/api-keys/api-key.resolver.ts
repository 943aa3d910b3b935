import { Arg, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { ApiKey, CreateApiKeyInput, CreatedApiKey } from './api-key.entity';
import { ApiKeyService } from './api-key.service';

@Resolver()
export class ApiKeyResolver {
  private readonly keys: ApiKeyService;
  constructor(deps: SubgraphDeps) {
    this.keys = new ApiKeyService(deps);
  }

  @Authorized('apikeys:manage')
  @Mutation(() => CreatedApiKey, {
    description: 'Creates an API key with some of your permissions; the secret is returned once',
  })
  createApiKey(@Arg('input', () => CreateApiKeyInput) input: CreateApiKeyInput): Promise<CreatedApiKey> {
    return this.keys.create(currentContext(), input);
  }

  @Authorized('apikeys:manage')
  @Query(() => [ApiKey], { description: 'Your active API keys (all of the tenant with users:manage)' })
  apiKeys(): Promise<ApiKey[]> {
    return this.keys.list(currentContext());
  }

  @Authorized('apikeys:manage')
  @Mutation(() => Boolean)
  revokeApiKey(@Arg('id', () => ID) id: string): Promise<boolean> {
    return this.keys.revoke(currentContext(), id);
  }
}
