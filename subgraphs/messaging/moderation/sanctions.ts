import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import type { MODERATION_ACTIONS } from '../../../kernel/contracts/events';
import { AppError } from '../../../kernel/errors';
import { recordEvent } from '../../../kernel/events';
import { MessagingErrorCode } from '../messaging.errors';

/** Refuses a muted member (MEMBER_MUTED, with `until` when the mute ends by itself). */
export async function assertNotMuted(
  em: EntityManager,
  tenantId: string,
  roomId: string,
  userId: string,
): Promise<void> {
  const [mute]: { until: Date | null }[] = await em.query(
    `SELECT until FROM messaging.room_sanctions
      WHERE tenant_id = $1 AND room_id = $2 AND user_id = $3 AND kind = 'mute' AND (until IS NULL OR until > now())`,
    [tenantId, roomId, userId],
  );
  if (mute) {
    const until = mute.until ? new Date(mute.until).toISOString() : null;
    throw new AppError(
      MessagingErrorCode.MEMBER_MUTED,
      until ? `You are muted in this room until ${until}` : 'You are muted in this room',
      { until },
    );
  }
}

export type ModerationAction = (typeof MODERATION_ACTIONS)[number];

/**
 * One line of the tenant's moderation log, in the same transaction as the action, and its
 * `messaging.moderation_action` event (the tenant's ledger keeps it).
 */
export async function logModeration(
  em: EntityManager,
  ctx: RequestContext,
  entry: {
    roomId: string | null;
    action: ModerationAction;
    targetUserId?: string | null;
    messageId?: string | null;
    reason: string;
    until?: Date | null;
    tenantId?: string;
  },
): Promise<void> {
  const tenantId = entry.tenantId ?? ctx.tenantId!;
  const line = {
    roomId: entry.roomId,
    action: entry.action,
    actorId: ctx.userId!,
    impersonatorId: ctx.impersonatorId ?? null,
    targetUserId: entry.targetUserId ?? null,
    messageId: entry.messageId ?? null,
    reason: entry.reason,
    until: entry.until ?? null,
  };
  await em.query(
    `INSERT INTO messaging.moderation_log (tenant_id, id, room_id, action, actor_id, impersonator_id, target_user_id, message_id, reason, until)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      tenantId,
      randomUUID(),
      line.roomId,
      line.action,
      line.actorId,
      line.impersonatorId,
      line.targetUserId,
      line.messageId,
      line.reason,
      line.until,
    ],
  );
  await recordEvent(em, 'messaging', {
    type: 'messaging.moderation_action',
    tenantId,
    payload: { tenantId, ...line, until: line.until?.toISOString() ?? null },
  });
}
