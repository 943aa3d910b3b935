import { Arg, Mutation, Resolver } from 'type-graphql';
import { Authorized, Public } from '../../../kernel/auth';
import { requireOwnCredentialsSession } from '../sso/sso-session';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { AuthPayload } from '../auth/auth.inputs';
import { TotpService } from './totp.service';
import { DisableTotpInput, TotpActivation, TotpEnrollment, VerifyLoginChallengeInput } from './totp.types';

@Resolver()
export class TotpResolver {
  private readonly totp: TotpService;
  constructor(deps: SubgraphDeps) {
    this.totp = new TotpService(deps);
  }

  @Authorized('account:manage')
  @Mutation(() => TotpEnrollment, { description: 'Starts setting up an authenticator app; confirm with a code' })
  enrollTotp(): Promise<TotpEnrollment> {
    requireOwnCredentialsSession();
    return this.totp.enroll(currentContext());
  }

  @Authorized('account:manage')
  @Mutation(() => TotpActivation, { description: 'Turns two-factor sign-in on; returns backup codes once' })
  confirmTotp(@Arg('code', () => String) code: string): Promise<TotpActivation> {
    requireOwnCredentialsSession();
    return this.totp.confirm(currentContext(), code);
  }

  @Authorized('account:manage')
  @Mutation(() => Boolean, { description: 'Turns two-factor sign-in off (password and a code required)' })
  disableTotp(@Arg('input', () => DisableTotpInput) input: DisableTotpInput): Promise<boolean> {
    requireOwnCredentialsSession();
    return this.totp.disable(currentContext(), input.password, input.code);
  }

  @Public()
  @Mutation(() => AuthPayload, { description: 'Second step of a sign-in with two-factor authentication' })
  verifyLoginChallenge(
    @Arg('input', () => VerifyLoginChallengeInput) input: VerifyLoginChallengeInput,
  ): Promise<AuthPayload> {
    return this.totp.verifyChallenge(currentContext(), input.challengeToken, input.code);
  }
}
