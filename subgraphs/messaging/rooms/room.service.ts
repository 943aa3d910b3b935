import { randomUUID } from 'node:crypto';
import { In, type EntityManager } from 'typeorm';
import type { DomainEvent } from '../../../kernel/events';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { MessagingErrorCode, messagingError } from '../messaging.errors';
import type { CreateRoomInput } from './create-room.input';
import { Room } from './room.entity';
import { isUuid } from '../../../kernel/db/values';

export class RoomService {
  constructor(private readonly deps: SubgraphDeps) {}

  async create(ctx: RequestContext, input: CreateRoomInput): Promise<Room> {
    const name = cleanText(input.name ?? '');
    if (name.length < 1 || name.length > 80) throw messagingError(MessagingErrorCode.INVALID_ROOM_NAME);
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const room = em.create(Room, { tenantId, id: randomUUID(), name, createdBy: ctx.userId! });
      await em.insert(Room, room);
      return em.findOneByOrFail(Room, { tenantId, id: room.id });
    });
  }

  list(ctx: RequestContext): Promise<Room[]> {
    return withTenant(this.deps.ds, ctx, (em, tenantId) => em.find(Room, { where: { tenantId }, order: { createdAt: 'ASC' } }));
  }

  async byIds(ctx: RequestContext, ids: readonly string[]): Promise<(Room | null)[]> {
    const rows = await withTenant(this.deps.ds, ctx, (em, tenantId) => em.findBy(Room, { tenantId, id: In(ids.filter(isUuid)) }));
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  }
}

/** Consumer of identity.tenant_registered: every new tenant starts with a `general` room. */
export async function createGeneralRoom(event: DomainEvent, em: EntityManager): Promise<void> {
  const p = event.payload as { tenantId: string; ownerUserId: string };
  await em.insert(Room, { tenantId: p.tenantId, id: randomUUID(), name: 'general', createdBy: p.ownerUserId });
}


/** Text as stored: NFC, control characters (except newline and tab) removed, trimmed. */
export function cleanText(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.normalize('NFC').replace(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g, '').trim();
}
