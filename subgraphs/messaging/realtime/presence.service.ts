import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withSystem, withTenant } from '../../../kernel/db/tenant-scope';
import { isUuid, returningRows } from '../../../kernel/db/values';
import { logger } from '../../../kernel/log';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { CONNECTION_CLOSED_TOPIC, presenceTopic, type PresenceMessage } from '../../../kernel/contracts/topics';
import { TEXT_LIMITS, cleanName } from '../../../kernel/text';
import { MessagingErrorCode, messagingError } from '../messaging.errors';
import { Presence, PresenceStatus, type SetPresenceInput } from './realtime.types';

export { presenceTopic };
export type PresenceChanged = PresenceMessage;

interface DeviceRow {
  user_id: string;
  status: 'online' | 'away';
  page: string | null;
  updated_at: Date;
}

function aggregate(userId: string, rows: DeviceRow[]): Presence {
  const online = rows.filter((r) => r.status === 'online');
  const latest = [...(online.length ? online : rows)].sort(
    (a, b) => +new Date(b.updated_at) - +new Date(a.updated_at),
  )[0];
  return Object.assign(new Presence(), {
    id: userId,
    userId,
    status: online.length ? PresenceStatus.ONLINE : rows.length ? PresenceStatus.AWAY : PresenceStatus.OFFLINE,
    page: latest?.page ?? null,
    devices: rows.length,
    lastSeenAt: rows.length ? new Date(Math.max(...rows.map((r) => +new Date(r.updated_at)))) : null,
  });
}

const log = logger('messaging.presence');

/**
 * Presence per device: each device (tab, app) reports its status and page and renews it as a heartbeat
 * within PRESENCE_TTL_SECONDS. A device ends when it says OFFLINE, when its WebSocket connection to the
 * gateway closes, or when its heartbeat stops. A person's presence is the sum of their devices; a change
 * of it is announced to the tenant.
 */
export class PresenceService {
  constructor(private readonly deps: SubgraphDeps) {}

  private get ttlSeconds(): number {
    return this.deps.config.realtime.PRESENCE_TTL_SECONDS;
  }

  async set(ctx: RequestContext, input: SetPresenceInput): Promise<Presence> {
    // Shown to the tenant's other members (the page) and kept per device: without control or bidirectional formatting characters.
    const deviceId = cleanName(input.deviceId ?? '');
    const page = input.page === undefined || input.page === null ? null : cleanName(input.page) || null;
    if (
      deviceId.length < 1 ||
      deviceId.length > TEXT_LIMITS.presenceDevice ||
      (page !== null && page.length > TEXT_LIMITS.presencePage)
    )
      throw messagingError(MessagingErrorCode.INVALID_PRESENCE);
    const { before, after } = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const before = await this.current(em, tenantId, ctx.userId!);
      if (input.status === PresenceStatus.OFFLINE) {
        await em.query(
          `DELETE FROM messaging.presence_devices WHERE tenant_id = $1 AND user_id = $2 AND device_id = $3`,
          [tenantId, ctx.userId, deviceId],
        );
      } else {
        await em.query(
          `INSERT INTO messaging.presence_devices (tenant_id, user_id, device_id, connection_id, status, page, updated_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, now(), now() + make_interval(secs => $7))
           ON CONFLICT (tenant_id, user_id, device_id) DO UPDATE
             SET connection_id = EXCLUDED.connection_id, status = EXCLUDED.status, page = EXCLUDED.page, updated_at = now(), expires_at = EXCLUDED.expires_at`,
          [tenantId, ctx.userId, deviceId, ctx.connectionId ?? null, input.status, page, this.ttlSeconds],
        );
      }
      return { before, after: await this.current(em, tenantId, ctx.userId!) };
    });
    if (before.status !== after.status || before.page !== after.page || before.devices !== after.devices)
      await this.announce(ctx.tenantId!, [ctx.userId!]);
    return after;
  }

  /** Someone's presence in the caller's tenant; null for someone who is not a member. */
  async byUser(ctx: RequestContext, userId: string): Promise<Presence | null> {
    if (!isUuid(userId)) return null;
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const [member]: unknown[] = await em.query(
        `SELECT 1 FROM messaging.tenant_members WHERE tenant_id = $1 AND user_id = $2`,
        [tenantId, userId],
      );
      return member ? this.current(em, tenantId, userId) : null;
    });
  }

  /** Everyone of the tenant who is online or away now. */
  list(ctx: RequestContext): Promise<Presence[]> {
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const rows: DeviceRow[] = await em.query(
        `SELECT user_id, status, page, updated_at FROM messaging.presence_devices WHERE tenant_id = $1 AND expires_at > now()`,
        [tenantId],
      );
      const byUser = new Map<string, DeviceRow[]>();
      for (const r of rows) byUser.set(r.user_id, [...(byUser.get(r.user_id) ?? []), r]);
      return [...byUser].map(([userId, devices]) => aggregate(userId, devices));
    });
  }

  private async current(em: EntityManager, tenantId: string, userId: string): Promise<Presence> {
    const rows: DeviceRow[] = await em.query(
      `SELECT user_id, status, page, updated_at FROM messaging.presence_devices WHERE tenant_id = $1 AND user_id = $2 AND expires_at > now()`,
      [tenantId, userId],
    );
    return aggregate(userId, rows);
  }

  private async announce(tenantId: string, userIds: string[]): Promise<void> {
    await Promise.all(
      userIds.map((userId) =>
        this.deps.pubsub.publish(presenceTopic(tenantId), { tenantId, userId } satisfies PresenceChanged),
      ),
    ).catch(() => undefined);
  }

  /** Ends devices whose heartbeat stopped, and those of connections that closed; runs while the subgraph is up. */
  start(): { stop(): Promise<void> } {
    const sweep = async () => {
      const gone: { tenant_id: string; user_id: string }[] = await withSystem(
        this.deps.ds,
        'expired presence',
        async (em) =>
          returningRows<{ tenant_id: string; user_id: string }>(
            await em.query(
              `DELETE FROM messaging.presence_devices WHERE expires_at <= now() RETURNING tenant_id, user_id`,
            ),
          ),
        'debug',
      );
      await this.announceRows(gone);
    };
    const period = Math.max(1_000, Math.min(5_000, (this.ttlSeconds * 1000) / 4));
    let running: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      running = running.then(sweep).catch((err) => log.warn({ err }, 'presence sweep failed'));
    }, period);
    timer.unref();
    const stopListening = this.deps.pubsub.listen(CONNECTION_CLOSED_TOPIC, (p) => {
      const { tenantId, userId, connectionId } = p;
      running = running
        .then(async () => {
          const gone: { tenant_id: string; user_id: string }[] = await withSystem(
            this.deps.ds,
            'closed connection presence',
            async (em) =>
              returningRows<{ tenant_id: string; user_id: string }>(
                await em.query(
                  `DELETE FROM messaging.presence_devices WHERE tenant_id = $1 AND user_id = $2 AND connection_id = $3 RETURNING tenant_id, user_id`,
                  [tenantId, userId, connectionId],
                ),
              ),
            'debug',
          );
          await this.announceRows(gone);
        })
        .catch((err) => log.warn({ err }, 'presence update for a closed connection failed'));
    });
    return {
      stop: async () => {
        clearInterval(timer);
        stopListening();
        await running;
      },
    };
  }

  private async announceRows(rows: { tenant_id: string; user_id: string }[]): Promise<void> {
    const seen = new Set<string>();
    for (const r of rows) {
      const key = `${r.tenant_id}:${r.user_id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      await this.announce(r.tenant_id, [r.user_id]);
    }
  }
}
