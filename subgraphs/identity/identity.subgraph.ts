import type { SubgraphDefinition } from '../../kernel/subgraph';
import { IdentityInit1763683200000 } from '../../migrations/identity/1763683200000-identity-init';
import { AuthResolver } from './auth/auth.resolver';
import { Session } from './auth/session.entity';
import { IdentityMembership } from './users/membership.entity';
import { User } from './users/user.entity';
import { UserResolver, userReferenceResolver } from './users/user.resolver';

/** Accounts, credentials, sessions and roles. */
export const identitySubgraph: SubgraphDefinition = {
  name: 'identity',
  entities: [User, IdentityMembership, Session],
  migrations: [IdentityInit1763683200000],
  resolvers: [AuthResolver, UserResolver],
  referenceResolvers: userReferenceResolver,
};
