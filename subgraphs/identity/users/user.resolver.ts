import { Arg, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { TenantUser } from './tenant-user.types';
import { currentContext } from '../../../kernel/context';
import { requestLoader } from '../../../kernel/loaders';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { User } from './user.entity';
import { UserService } from './user.service';
import { GatewayPolicy } from '../../../kernel/contracts/gateway-policy';

@Resolver(() => User)
export class UserResolver {
  private readonly users: UserService;
  constructor(deps: SubgraphDeps) {
    this.users = new UserService(deps);
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('account:read')
  @Query(() => User, { description: 'The signed-in account' })
  me(): Promise<User> {
    return this.users.me(currentContext());
  }

  @Authorized('users:read')
  @Query(() => [TenantUser], { description: "The current tenant's members, with their roles" })
  tenantUsers(): Promise<TenantUser[]> {
    return this.users.members(currentContext());
  }

  @GatewayPolicy('viewer-dependent')
  @FieldResolver(() => String, {
    name: 'email',
    nullable: true,
    description:
      'The address the account signs in with. To anyone but the account itself, only once the account has confirmed it (null before, and always for an account whose registration named an address another account holds)',
  })
  email(@Root() user: User): string | null {
    // Others never see an address nobody has shown to be theirs: neither one a registration named while another
    // account holds it, nor one not yet confirmed (which would tell the two apart, and show unproven addresses).
    const self = user.viewedBySelf === true || user.id === currentContext().userId;
    if (self) return user.email ?? user.registeredEmail;
    return user.emailVerifiedAt ? user.email : null;
  }

  @Authorized('users:manage')
  @Mutation(() => Boolean, { description: 'Removes a member from the current tenant (their sessions here end)' })
  removeUser(@Arg('userId', () => ID) userId: string): Promise<boolean> {
    return this.users.remove(currentContext(), userId);
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
