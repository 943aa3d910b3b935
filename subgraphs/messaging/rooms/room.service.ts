import { randomUUID } from 'node:crypto';
import { In, type EntityManager } from 'typeorm';
import type { EventOf } from '../../../kernel/contracts/events';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { MessagingErrorCode, messagingError } from '../messaging.errors';
import type { CreateRoomInput } from './create-room.input';
import { Room, RoomType } from './room.entity';
import { isUuid, returningRows } from '../../../kernel/db/values';
import { SUBSCRIPTION_ACCESS_CHANGED_TOPIC } from '../../../kernel/contracts/topics';
import { TEXT_LIMITS, cleanName } from '../../../kernel/text';

/** Tenant roles that may see every support room (the tenant's team). */
const TEAM_ROLES = ['owner', 'admin'];

/** Whether the caller may use a room, and if not, whether a ban is why. */
export async function roomAccess(
  em: EntityManager,
  ctx: RequestContext,
  room: Room,
): Promise<'ok' | 'banned' | 'none'> {
  const [row]: { banned: boolean; member: boolean }[] = await em.query(
    `SELECT EXISTS (SELECT 1 FROM messaging.room_sanctions s
                     WHERE s.tenant_id = $1 AND s.room_id = $2 AND s.user_id = $3 AND s.kind = 'ban' AND (s.until IS NULL OR s.until > now())) AS banned,
            EXISTS (SELECT 1 FROM messaging.room_members m WHERE m.tenant_id = $1 AND m.room_id = $2 AND m.user_id = $3) AS member`,
    [room.tenantId, room.id, ctx.userId],
  );
  if (row.banned) return 'banned';
  if (room.type === RoomType.GENERAL || row.member) return 'ok';
  if (room.type === RoomType.SUPPORT && ctx.roles.some((r) => TEAM_ROLES.includes(r))) return 'ok';
  return 'none';
}

/** Whether the caller may read and post in a room: general rooms are the tenant's, others their members' (never while banned). */
export async function canUseRoom(em: EntityManager, ctx: RequestContext, room: Room): Promise<boolean> {
  return (await roomAccess(em, ctx, room)) === 'ok';
}

/** The room if the caller may use it, else null (for lookups that answer null rather than an error). */
export async function visibleRoom(
  em: EntityManager,
  ctx: RequestContext,
  tenantId: string,
  roomId: string,
): Promise<Room | null> {
  const room = isUuid(roomId) ? await em.findOneBy(Room, { tenantId, id: roomId }) : null;
  return room && (await canUseRoom(em, ctx, room)) ? room : null;
}

/** A room the caller may use; ROOM_NOT_FOUND for anything else (another tenant's, or one they are not in), BANNED_FROM_ROOM when banned. */
export async function usableRoom(
  em: EntityManager,
  ctx: RequestContext,
  tenantId: string,
  roomId: string,
): Promise<Room> {
  const room = isUuid(roomId) ? await em.findOneBy(Room, { tenantId, id: roomId }) : null;
  const access = room ? await roomAccess(em, ctx, room) : 'none';
  if (access === 'banned') throw messagingError(MessagingErrorCode.BANNED_FROM_ROOM);
  if (!room || access !== 'ok') throw messagingError(MessagingErrorCode.ROOM_NOT_FOUND);
  return room;
}

/** Tenant roles that moderate every room and see support rooms. */
export function isTeam(ctx: RequestContext): boolean {
  return ctx.roles.some((r) => TEAM_ROLES.includes(r));
}

async function assertInTenant(em: EntityManager, tenantId: string, userIds: string[]): Promise<void> {
  if (!userIds.every(isUuid)) throw messagingError(MessagingErrorCode.NOT_IN_TENANT);
  const rows: { user_id: string }[] = await em.query(
    `SELECT user_id FROM messaging.tenant_members WHERE tenant_id = $1 AND user_id = ANY($2::uuid[])`,
    [tenantId, userIds],
  );
  if (rows.length !== new Set(userIds).size) throw messagingError(MessagingErrorCode.NOT_IN_TENANT);
}

export class RoomService {
  constructor(private readonly deps: SubgraphDeps) {}

  async create(ctx: RequestContext, input: CreateRoomInput): Promise<Room> {
    const name = cleanName(input.name ?? '');
    if (name.length < 1 || name.length > TEXT_LIMITS.roomName)
      throw messagingError(MessagingErrorCode.INVALID_ROOM_NAME);
    const type = input.type ?? RoomType.GENERAL;
    if (type !== RoomType.GENERAL && type !== RoomType.ALLIANCE) {
      throw messagingError(
        MessagingErrorCode.INVALID_ROOM,
        'Direct and support rooms are opened with openDirectRoom and openSupportRoom',
      );
    }
    const members = [...new Set((input.memberIds ?? []).filter((id) => id !== ctx.userId))];
    if (type === RoomType.GENERAL && members.length)
      throw messagingError(
        MessagingErrorCode.INVALID_ROOM,
        'A general room is open to everyone: it takes no member list',
      );
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      await assertInTenant(em, tenantId, members);
      const room = em.create(Room, { tenantId, id: randomUUID(), name, createdBy: ctx.userId!, type });
      await em.insert(Room, room);
      await this.addMembers(em, tenantId, room.id, [
        [ctx.userId!, 'owner'],
        ...members.map((m) => [m, 'member'] as [string, string]),
      ]);
      return em.findOneByOrFail(Room, { tenantId, id: room.id });
    });
  }

  /** The one room of the caller and another person of the tenant (created on first use). */
  async openDirect(ctx: RequestContext, userId: string): Promise<Room> {
    if (userId === ctx.userId)
      throw messagingError(MessagingErrorCode.INVALID_ROOM, 'A direct room needs someone else');
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      await assertInTenant(em, tenantId, [userId]);
      const key = [ctx.userId!, userId].sort().join(':');
      const id = randomUUID();
      const created = returningRows<{ id: string }>(
        await em.query(
          `INSERT INTO messaging.rooms (tenant_id, id, name, created_by, type, dm_key) VALUES ($1, $2, 'direct', $3, 'dm', $4)
           ON CONFLICT (tenant_id, dm_key) WHERE dm_key IS NOT NULL DO NOTHING RETURNING id`,
          [tenantId, id, ctx.userId, key],
        ),
      );
      if (created.length)
        await this.addMembers(em, tenantId, id, [
          [ctx.userId!, 'member'],
          [userId, 'member'],
        ]);
      return em.findOneByOrFail(Room, { tenantId, dmKey: key });
    });
  }

  /** The caller's support room with the tenant's team (created on first use). */
  async openSupport(ctx: RequestContext): Promise<Room> {
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const id = randomUUID();
      const created = returningRows<{ id: string }>(
        await em.query(
          `INSERT INTO messaging.rooms (tenant_id, id, name, created_by, type, support_user) VALUES ($1, $2, 'support', $3, 'support', $3)
           ON CONFLICT (tenant_id, support_user) WHERE support_user IS NOT NULL DO NOTHING RETURNING id`,
          [tenantId, id, ctx.userId],
        ),
      );
      if (created.length) await this.addMembers(em, tenantId, id, [[ctx.userId!, 'member']]);
      return em.findOneByOrFail(Room, { tenantId, supportUser: ctx.userId! });
    });
  }

  /** A room's owner or admins add someone of the tenant to a members-only room. */
  async invite(ctx: RequestContext, roomId: string, userId: string): Promise<boolean> {
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const room = await usableRoom(em, ctx, tenantId, roomId);
      if (room.type !== RoomType.ALLIANCE)
        throw messagingError(MessagingErrorCode.INVALID_ROOM, 'Only alliance rooms take invitations');
      await this.assertRoomAdmin(em, tenantId, room.id, ctx.userId!);
      await assertInTenant(em, tenantId, [userId]);
      await this.addMembers(em, tenantId, room.id, [[userId, 'member']]);
      return true;
    });
  }

  async leave(ctx: RequestContext, roomId: string): Promise<boolean> {
    await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const room = await usableRoom(em, ctx, tenantId, roomId);
      if (room.type === RoomType.GENERAL)
        throw messagingError(MessagingErrorCode.INVALID_ROOM, 'A general room is open to the whole tenant');
      await em.query(`DELETE FROM messaging.room_members WHERE tenant_id = $1 AND room_id = $2 AND user_id = $3`, [
        tenantId,
        room.id,
        ctx.userId,
      ]);
    });
    // Their live subscriptions to the room end (the gateway admits them again).
    await this.deps.pubsub
      .publish(SUBSCRIPTION_ACCESS_CHANGED_TOPIC, { tenantId: ctx.tenantId!, userIds: [ctx.userId!] })
      .catch(() => undefined);
    return true;
  }

  /** Read-only from now on (history stays); by the room's owner or admins, or a tenant admin. */
  async archive(ctx: RequestContext, roomId: string): Promise<Room> {
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const room = await usableRoom(em, ctx, tenantId, roomId);
      if (!ctx.roles.some((r) => TEAM_ROLES.includes(r)))
        await this.assertRoomAdmin(em, tenantId, room.id, ctx.userId!);
      await em.update(Room, { tenantId, id: room.id }, { archivedAt: new Date() });
      return em.findOneByOrFail(Room, { tenantId, id: room.id });
    });
  }

  /** The rooms the caller can use: the tenant's general rooms, theirs, and (for the team) support rooms. */
  list(ctx: RequestContext): Promise<Room[]> {
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const team = ctx.roles.some((r) => TEAM_ROLES.includes(r));
      return em
        .createQueryBuilder(Room, 'r')
        .where('r.tenant_id = :tenantId', { tenantId })
        .andWhere(
          `(r.type = 'general' OR (:team AND r.type = 'support')
            OR EXISTS (SELECT 1 FROM messaging.room_members m WHERE m.tenant_id = r.tenant_id AND m.room_id = r.id AND m.user_id = :userId))
           AND NOT EXISTS (SELECT 1 FROM messaging.room_sanctions s WHERE s.tenant_id = r.tenant_id AND s.room_id = r.id AND s.user_id = :userId
                             AND s.kind = 'ban' AND (s.until IS NULL OR s.until > now()))`,
          { team, userId: ctx.userId },
        )
        .orderBy('r.created_at', 'ASC')
        .getMany();
    });
  }

  async byIds(ctx: RequestContext, ids: readonly string[]): Promise<(Room | null)[]> {
    const rows = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const found = await em.findBy(Room, { tenantId, id: In(ids.filter(isUuid)) });
      const usable: Room[] = [];
      for (const room of found) if (await canUseRoom(em, ctx, room)) usable.push(room);
      return usable;
    });
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  private async addMembers(
    em: EntityManager,
    tenantId: string,
    roomId: string,
    members: [string, string][],
  ): Promise<void> {
    for (const [userId, role] of members) {
      await em.query(
        `INSERT INTO messaging.room_members (tenant_id, room_id, user_id, role) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
        [tenantId, roomId, userId, role],
      );
    }
  }

  private async assertRoomAdmin(em: EntityManager, tenantId: string, roomId: string, userId: string): Promise<void> {
    const [row]: { role: string }[] = await em.query(
      `SELECT role FROM messaging.room_members WHERE tenant_id = $1 AND room_id = $2 AND user_id = $3`,
      [tenantId, roomId, userId],
    );
    if (!row || (row.role !== 'owner' && row.role !== 'admin')) throw messagingError(MessagingErrorCode.NOT_ROOM_ADMIN);
  }
}

/** Consumers of identity's and tenancy's membership events: who belongs to each tenant (for DMs and invitations). */
export async function memberJoined(
  event: EventOf<'identity.tenant_registered' | 'tenancy.tenant_created' | 'identity.member_added'>,
  em: EntityManager,
): Promise<void> {
  const { tenantId } = event.payload;
  const [userId, role] =
    event.type === 'identity.member_added'
      ? [event.payload.userId, event.payload.role]
      : [event.payload.ownerUserId, 'owner'];
  await em.query(
    `INSERT INTO messaging.tenant_members (tenant_id, user_id, role) VALUES ($1, $2, $3)
     ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = coalesce(EXCLUDED.role, messaging.tenant_members.role)`,
    [tenantId, userId, role],
  );
}

/** Consumer of identity.member_role_changed: the member's tenant role. */
export async function memberRoleChanged(
  event: EventOf<'identity.member_role_changed'>,
  em: EntityManager,
): Promise<void> {
  const p = event.payload;
  await em.query(`UPDATE messaging.tenant_members SET role = $3 WHERE tenant_id = $1 AND user_id = $2`, [
    p.tenantId,
    p.userId,
    p.role,
  ]);
}

export async function memberLeft(event: EventOf<'identity.member_removed'>, em: EntityManager): Promise<void> {
  const p = event.payload;
  await em.query(`DELETE FROM messaging.tenant_members WHERE tenant_id = $1 AND user_id = $2`, [p.tenantId, p.userId]);
  await em.query(`DELETE FROM messaging.room_members WHERE tenant_id = $1 AND user_id = $2`, [p.tenantId, p.userId]);
}

/** Consumer of identity.tenant_registered: every new tenant starts with a `general` room. */
export async function createGeneralRoom(
  event: EventOf<'identity.tenant_registered' | 'tenancy.tenant_created'>,
  em: EntityManager,
): Promise<void> {
  const p = event.payload;
  await em.insert(Room, { tenantId: p.tenantId, id: randomUUID(), name: 'general', createdBy: p.ownerUserId });
}

/** Text as stored: NFC, control characters (except newline and tab) removed, trimmed. */
export function cleanText(value: string): string {
  return (
    value
      .normalize('NFC')
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g, '')
      .trim()
  );
}
