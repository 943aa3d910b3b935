import { Arg, Authorized, Mutation, Resolver } from 'type-graphql';
import { Public } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { AuthPayload, LoginInput, RegisterInput } from './auth.inputs';
import { AuthService } from './auth.service';

@Resolver()
export class AuthResolver {
  private readonly auth: AuthService;
  constructor(deps: SubgraphDeps) {
    this.auth = new AuthService(deps);
  }

  @Public()
  @Mutation(() => AuthPayload, { description: 'Creates an account and a tenant it owns, and signs in' })
  register(@Arg('input', () => RegisterInput) input: RegisterInput): Promise<AuthPayload> {
    return this.auth.register(input, currentContext());
  }

  @Authorized()
  @Mutation(() => Boolean, { description: 'Signs out the current session; its tokens stop working at once' })
  logout(): Promise<boolean> {
    return this.auth.logout(currentContext());
  }

  @Public()
  @Mutation(() => AuthPayload, { description: 'Signs in with email and password' })
  login(@Arg('input', () => LoginInput) input: LoginInput): Promise<AuthPayload> {
    return this.auth.login(input, currentContext());
  }
}
