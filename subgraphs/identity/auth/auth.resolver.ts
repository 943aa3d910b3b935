import { Arg, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized, Public } from '../../../kernel/auth';
import { requireOwnCredentialsSession } from '../sso/sso-session';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { SessionService } from '../sessions/session.service';
import { SessionInfo } from '../sessions/session.types';
import { AuthPayload, LoginInput, RegisterInput } from './auth.inputs';
import { AuthService } from './auth.service';
import { PasswordService } from '../passwords/password.service';
import { EmailVerificationService } from '../verification/email-verification.service';
import { ChangePasswordInput, ResetPasswordInput } from '../passwords/password.types';
import { GatewayPolicy } from '../../../kernel/contracts/gateway-policy';

@Resolver()
export class AuthResolver {
  private readonly auth: AuthService;
  private readonly sessionService: SessionService;
  private readonly passwords: PasswordService;
  private readonly verification: EmailVerificationService;
  constructor(deps: SubgraphDeps) {
    this.passwords = new PasswordService(deps);
    this.verification = new EmailVerificationService(deps);
    this.auth = new AuthService(deps);
    this.sessionService = new SessionService(deps);
  }

  @Public()
  @Mutation(() => AuthPayload, {
    description:
      'Creates an account and a tenant it owns, and signs in. The answer is the same whether or not the address already has an account: if it has, that account keeps the address (its owner is told by mail) and the new account can never confirm it',
  })
  register(@Arg('input', () => RegisterInput) input: RegisterInput): Promise<AuthPayload> {
    return this.auth.register(input, currentContext());
  }

  @Public()
  @Mutation(() => AuthPayload, { description: 'Signs in with email and password' })
  login(@Arg('input', () => LoginInput) input: LoginInput): Promise<AuthPayload> {
    return this.auth.login(input, currentContext());
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('account:read')
  @Mutation(() => AuthPayload, { description: 'A session in another tenant you belong to (this one stays signed in)' })
  switchTenant(@Arg('tenantId', () => ID) tenantId: string): Promise<AuthPayload> {
    return this.auth.switchTenant(currentContext(), tenantId);
  }

  @Public()
  @Mutation(() => AuthPayload, {
    description: 'New tokens for a session; the refresh token given is used up (rotation)',
  })
  refreshSession(@Arg('refreshToken', () => String) refreshToken: string): Promise<AuthPayload> {
    return this.sessionService.refresh(currentContext(), refreshToken);
  }

  @Public()
  @Mutation(() => Boolean, { description: 'E-mails a one-time reset link if the address has an account; always true' })
  requestPasswordReset(@Arg('email', () => String) email: string): boolean {
    return this.passwords.requestReset(currentContext(), email);
  }

  @Public()
  @Mutation(() => Boolean, {
    description: 'Sets a new password with the token from the reset e-mail; signs out everywhere',
  })
  resetPassword(@Arg('input', () => ResetPasswordInput) input: ResetPasswordInput): Promise<boolean> {
    return this.passwords.reset(currentContext(), input.token, input.newPassword);
  }

  @Authorized('account:manage')
  @Mutation(() => Boolean, { description: 'Changes the password; other sessions are signed out' })
  changePassword(@Arg('input', () => ChangePasswordInput) input: ChangePasswordInput): Promise<boolean> {
    requireOwnCredentialsSession();
    return this.passwords.change(currentContext(), input.currentPassword, input.newPassword);
  }

  @Public()
  @Mutation(() => Boolean, { description: 'Confirms the address with the token from the mailed link' })
  verifyEmail(@Arg('token', () => String) token: string): Promise<boolean> {
    return this.verification.verify(token);
  }

  @Authorized('account:manage')
  @Mutation(() => Boolean, { description: 'Sends a new confirmation link to your address' })
  resendEmailVerification(): Promise<boolean> {
    return this.verification.resend(currentContext());
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('account:manage')
  @Mutation(() => Boolean, {
    description:
      'Signs out the current session; its tokens stop working at once where the revocation is announced, everywhere within REVOCATION_POLL_MS',
  })
  logout(): Promise<boolean> {
    return this.sessionService.logout(currentContext());
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('account:manage')
  @Mutation(() => Boolean, { description: 'Signs out every session of the account, in every tenant' })
  logoutEverywhere(): Promise<boolean> {
    requireOwnCredentialsSession();
    return this.sessionService.logoutEverywhere(currentContext());
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('account:read')
  @Query(() => [SessionInfo], { description: "The account's signed-in devices" })
  sessions(): Promise<SessionInfo[]> {
    return this.sessionService.list(currentContext());
  }

  @GatewayPolicy('open-while-suspended', 'open-over-api-limit')
  @Authorized('account:manage')
  @Mutation(() => Boolean, { description: 'Signs out one of your sessions' })
  revokeSession(@Arg('id', () => ID) id: string): Promise<boolean> {
    return this.sessionService.revoke(currentContext(), id);
  }
}
