import { Arg, Mutation, Resolver } from 'type-graphql';
import { Authorized, Public } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { AuthPayload } from '../auth/auth.inputs';
import { AcceptInvitationInput, Invitation, InviteUserInput } from './invitation.entity';
import { InvitationService } from './invitation.service';
import { GatewayPolicy } from '../../../kernel/contracts/gateway-policy';

@Resolver()
export class InvitationResolver {
  private readonly invitations: InvitationService;
  constructor(deps: SubgraphDeps) {
    this.invitations = new InvitationService(deps);
  }

  @GatewayPolicy('uses-members')
  @Authorized('users:manage')
  @Mutation(() => Invitation, { description: 'E-mails someone a one-time link to join this tenant with a role' })
  inviteUser(@Arg('input', () => InviteUserInput) input: InviteUserInput): Promise<Invitation> {
    return this.invitations.invite(currentContext(), input);
  }

  @GatewayPolicy('uses-members')
  @Public()
  @Mutation(() => AuthPayload, {
    description: 'Joins the tenant of an invitation (creating the account if needed) and signs in',
  })
  acceptInvitation(@Arg('input', () => AcceptInvitationInput) input: AcceptInvitationInput): Promise<AuthPayload> {
    return this.invitations.accept(currentContext(), input);
  }
}
