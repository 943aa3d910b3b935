import { Authorized, Query, Resolver } from 'type-graphql';
import { currentContext } from '../../../kernel/context';
import { requestLoader } from '../../../kernel/loaders';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { User } from './user.entity';
import { UserService } from './user.service';

@Resolver(() => User)
export class UserResolver {
  private readonly users: UserService;
  constructor(deps: SubgraphDeps) {
    this.users = new UserService(deps);
  }

  @Authorized()
  @Query(() => User, { description: 'The signed-in account' })
  me(): Promise<User> {
    return this.users.me(currentContext());
  }
}

/** Resolves User references from other subgraphs (e.g. Message.author), batched per request. */
export function userReferenceResolver(deps: SubgraphDeps) {
  const users = new UserService(deps);
  return {
    User: {
      __resolveReference: (ref: { id: string }) =>
        requestLoader<User>('identity.user', (ids) => users.byIds(currentContext(), ids)).load(ref.id),
    },
  };
}
