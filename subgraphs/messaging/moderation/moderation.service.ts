import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { isUuid, returningRows } from '../../../kernel/db/values';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { SUBSCRIPTION_ACCESS_CHANGED_TOPIC } from '../../../kernel/contracts/topics';
import { TEXT_LIMITS } from '../../../kernel/text';
import { MessagingErrorCode, messagingError } from '../messaging.errors';
import { MessageService } from '../messages/message.service';
import type { MessageConnection } from '../messages/message.types';
import { Room, RoomType } from '../rooms/room.entity';
import { cleanText } from '../rooms/room.service';
import { logModeration, type ModerationAction } from './sanctions';
import { ModerationEntry, type ModerationActionKind, type ModerateMemberInput } from './moderation.types';

const MAX_MINUTES = 525_600;

interface LogRow {
  id: string;
  room_id: string | null;
  action: string;
  actor_id: string;
  impersonator_id: string | null;
  target_user_id: string | null;
  message_id: string | null;
  reason: string;
  until: Date | null;
  created_at: Date;
}

function entry(r: LogRow): ModerationEntry {
  return Object.assign(new ModerationEntry(), {
    id: r.id,
    roomId: r.room_id,
    action: r.action as ModerationActionKind,
    actorId: r.actor_id,
    impersonatorId: r.impersonator_id,
    targetUserId: r.target_user_id,
    messageId: r.message_id,
    reason: r.reason,
    until: r.until,
    createdAt: r.created_at,
  });
}

/**
 * Tenant moderators (`messages:moderate`) mute (posting and typing refused), ban (the room is closed to
 * them, live subscriptions end), remove members of members-only rooms, and lift mutes and bans. Every
 * action is logged with its actor and reason in the same transaction.
 */
export class ModerationService {
  constructor(private readonly deps: SubgraphDeps) {}

  mute(ctx: RequestContext, input: ModerateMemberInput) {
    return this.act(ctx, input, 'mute', async (em, tenantId, room, until) => {
      await this.sanction(em, ctx, tenantId, room.id, input.userId, 'mute', until, input.reason);
    });
  }

  unmute(ctx: RequestContext, input: ModerateMemberInput) {
    return this.act(ctx, input, 'unmute', (em, tenantId, room) =>
      this.lift(em, tenantId, room.id, input.userId, 'mute'),
    );
  }

  async ban(ctx: RequestContext, input: ModerateMemberInput) {
    const result = await this.act(ctx, input, 'ban', async (em, tenantId, room, until) => {
      if (room.type === RoomType.DM)
        throw messagingError(MessagingErrorCode.INVALID_MODERATION, 'Nobody can be banned from a direct room');
      await this.sanction(em, ctx, tenantId, room.id, input.userId, 'ban', until, input.reason);
    });
    await this.accessChanged(ctx.tenantId!, input.userId);
    return result;
  }

  async unban(ctx: RequestContext, input: ModerateMemberInput) {
    const result = await this.act(ctx, input, 'unban', (em, tenantId, room) =>
      this.lift(em, tenantId, room.id, input.userId, 'ban'),
    );
    await this.accessChanged(ctx.tenantId!, input.userId);
    return result;
  }

  async remove(ctx: RequestContext, input: ModerateMemberInput) {
    const result = await this.act(ctx, input, 'remove', async (em, tenantId, room) => {
      if (room.type !== RoomType.ALLIANCE && room.type !== RoomType.SUPPORT) {
        throw messagingError(
          MessagingErrorCode.INVALID_MODERATION,
          'Only members-only rooms have members to remove (ban from a general room instead)',
        );
      }
      const removed = returningRows(
        await em.query(
          `DELETE FROM messaging.room_members WHERE tenant_id = $1 AND room_id = $2 AND user_id = $3 RETURNING user_id`,
          [tenantId, room.id, input.userId],
        ),
      );
      if (removed.length === 0)
        throw messagingError(MessagingErrorCode.INVALID_MODERATION, 'That person is not a member of this room');
    });
    await this.accessChanged(ctx.tenantId!, input.userId);
    return result;
  }

  /** A platform Super Admin reads a tenant's room without joining it; the read is logged in that tenant. */
  observe(
    ctx: RequestContext,
    tenantId: string,
    roomId: string,
    reason: string,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<MessageConnection> {
    const why = cleanText(reason ?? '');
    if (why.length < 1 || why.length > TEXT_LIMITS.reason)
      throw messagingError(
        MessagingErrorCode.INVALID_MODERATION,
        `Give a reason of 1 to ${TEXT_LIMITS.reason} characters`,
      );
    if (!isUuid(tenantId)) throw messagingError(MessagingErrorCode.ROOM_NOT_FOUND);
    return new MessageService(this.deps).history({ ...ctx, tenantId }, roomId, first, after, null, { reason: why });
  }

  /** The tenant's moderation log (one room's, or all), newest first. */
  log(
    ctx: RequestContext,
    roomId: string | null | undefined,
    first: number | null | undefined,
  ): Promise<ModerationEntry[]> {
    const limit = Math.max(1, Math.min(first ?? 50, 200));
    if (roomId && !isUuid(roomId)) return Promise.resolve([]);
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const rows: LogRow[] = await em.query(
        `SELECT * FROM messaging.moderation_log WHERE tenant_id = $1 AND ($2::uuid IS NULL OR room_id = $2) ORDER BY created_at DESC, id DESC LIMIT $3`,
        [tenantId, roomId ?? null, limit],
      );
      return rows.map(entry);
    });
  }

  private async act(
    ctx: RequestContext,
    input: ModerateMemberInput,
    action: ModerationAction,
    work: (em: EntityManager, tenantId: string, room: Room, until: Date | null) => Promise<void>,
  ): Promise<ModerationEntry> {
    const reason = cleanText(input.reason ?? '');
    if (reason.length < 1 || reason.length > TEXT_LIMITS.reason)
      throw messagingError(
        MessagingErrorCode.INVALID_MODERATION,
        `Give a reason of 1 to ${TEXT_LIMITS.reason} characters`,
      );
    if (input.userId === ctx.userId)
      throw messagingError(MessagingErrorCode.INVALID_MODERATION, 'Moderators cannot act on themselves');
    const minutes = input.minutes ?? null;
    if (minutes !== null && (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_MINUTES)) {
      throw messagingError(MessagingErrorCode.INVALID_MODERATION, `minutes must be 1 to ${MAX_MINUTES}`);
    }
    if (action !== 'mute' && action !== 'ban' && minutes !== null)
      throw messagingError(MessagingErrorCode.INVALID_MODERATION, 'Only mutes and bans take minutes');
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const room = isUuid(input.roomId) ? await em.findOneBy(Room, { tenantId, id: input.roomId }) : null;
      if (!room) throw messagingError(MessagingErrorCode.ROOM_NOT_FOUND);
      const [member]: { role: string | null }[] = isUuid(input.userId)
        ? await em.query(`SELECT role FROM messaging.tenant_members WHERE tenant_id = $1 AND user_id = $2`, [
            tenantId,
            input.userId,
          ])
        : [];
      if (!member) throw messagingError(MessagingErrorCode.NOT_IN_TENANT);
      // Nobody sanctions an owner; only an owner sanctions an admin.
      if (member.role === 'owner' || (member.role === 'admin' && !ctx.roles.includes('owner'))) {
        throw messagingError(
          MessagingErrorCode.INVALID_MODERATION,
          'You cannot moderate someone with more authority in this tenant',
        );
      }
      const until = minutes === null ? null : new Date(Date.now() + minutes * 60_000);
      await work(em, tenantId, room, until);
      await logModeration(em, ctx, { roomId: room.id, action, targetUserId: input.userId, reason, until });
      const [row]: LogRow[] = await em.query(
        `SELECT * FROM messaging.moderation_log WHERE tenant_id = $1 AND room_id = $2 AND action = $3 AND target_user_id = $4 ORDER BY created_at DESC, id DESC LIMIT 1`,
        [tenantId, room.id, action, input.userId],
      );
      return entry(row);
    });
  }

  private async sanction(
    em: EntityManager,
    ctx: RequestContext,
    tenantId: string,
    roomId: string,
    userId: string,
    kind: 'mute' | 'ban',
    until: Date | null,
    reason: string,
  ) {
    await em.query(
      `INSERT INTO messaging.room_sanctions (tenant_id, room_id, user_id, kind, until, reason, actor_id) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (tenant_id, room_id, user_id, kind) DO UPDATE SET until = EXCLUDED.until, reason = EXCLUDED.reason, actor_id = EXCLUDED.actor_id, created_at = now()`,
      [tenantId, roomId, userId, kind, until, cleanText(reason), ctx.userId],
    );
  }

  private async lift(
    em: EntityManager,
    tenantId: string,
    roomId: string,
    userId: string,
    kind: 'mute' | 'ban',
  ): Promise<void> {
    const lifted = returningRows(
      await em.query(
        `DELETE FROM messaging.room_sanctions WHERE tenant_id = $1 AND room_id = $2 AND user_id = $3 AND kind = $4 RETURNING user_id`,
        [tenantId, roomId, userId, kind],
      ),
    );
    if (lifted.length === 0)
      throw messagingError(
        MessagingErrorCode.INVALID_MODERATION,
        `That person is not ${kind === 'mute' ? 'muted' : 'banned'} in this room`,
      );
  }

  /** Gateways admit that person's live subscriptions again (a ban or removal ends them). */
  private accessChanged(tenantId: string, userId: string): Promise<void> {
    return this.deps.pubsub
      .publish(SUBSCRIPTION_ACCESS_CHANGED_TOPIC, { tenantId, userIds: [userId] })
      .catch(() => undefined);
  }
}
