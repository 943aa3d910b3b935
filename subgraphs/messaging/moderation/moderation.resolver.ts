import { Arg, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';
import { MessageConnection } from '../messages/message.types';
import { ModerateMemberInput, ModerationEntry } from './moderation.types';
import { ModerationService } from './moderation.service';

@Resolver()
export class ModerationResolver {
  private readonly moderation: ModerationService;
  constructor(deps: SubgraphDeps) {
    this.moderation = new ModerationService(deps);
  }

  @Authorized('messages:moderate')
  @Mutation(() => ModerationEntry, {
    description: 'Stops someone posting (and typing) in a room, for `minutes` or until unmuted',
  })
  muteMember(@Arg('input', () => ModerateMemberInput) input: ModerateMemberInput): Promise<ModerationEntry> {
    return this.moderation.mute(currentContext(), input);
  }

  @Authorized('messages:moderate')
  @Mutation(() => ModerationEntry)
  unmuteMember(@Arg('input', () => ModerateMemberInput) input: ModerateMemberInput): Promise<ModerationEntry> {
    return this.moderation.unmute(currentContext(), input);
  }

  @Authorized('messages:moderate')
  @Mutation(() => ModerationEntry, {
    description: 'Closes a room to someone (history, posting, live events), for `minutes` or until unbanned',
  })
  banMember(@Arg('input', () => ModerateMemberInput) input: ModerateMemberInput): Promise<ModerationEntry> {
    return this.moderation.ban(currentContext(), input);
  }

  @Authorized('messages:moderate')
  @Mutation(() => ModerationEntry)
  unbanMember(@Arg('input', () => ModerateMemberInput) input: ModerateMemberInput): Promise<ModerationEntry> {
    return this.moderation.unban(currentContext(), input);
  }

  @Authorized('messages:moderate')
  @Mutation(() => ModerationEntry, { description: 'Takes someone out of a members-only room (alliance or support)' })
  removeMember(@Arg('input', () => ModerateMemberInput) input: ModerateMemberInput): Promise<ModerationEntry> {
    return this.moderation.remove(currentContext(), input);
  }

  @Authorized('messages:moderate')
  @Query(() => [ModerationEntry], {
    description: "The tenant's moderation log (or one room's), newest first, observations by Super Admins included",
  })
  moderationLog(
    @Arg('roomId', () => ID, { nullable: true }) roomId?: string | null,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
  ): Promise<ModerationEntry[]> {
    return this.moderation.log(currentContext(), roomId, first);
  }

  @Authorized('platform:tenants')
  @Query(() => MessageConnection, {
    description:
      "Super Admins: reads a tenant's room without joining it; each read is logged in that tenant's moderation log",
  })
  observeRoom(
    @Arg('tenantId', () => ID) tenantId: string,
    @Arg('roomId', () => ID) roomId: string,
    @Arg('reason', () => String, {
      description: `Why, kept in the tenant's moderation log: ${lengthRange(TEXT_LIMITS.reason)}`,
    })
    reason: string,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<MessageConnection> {
    return this.moderation.observe(currentContext(), tenantId, roomId, reason, first, after);
  }
}
