import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { AdmissionRequired, noteEffect, spend } from '../../../kernel/admission';
import { systemContext, type RequestContext } from '../../../kernel/context';
import { AppError } from '../../../kernel/errors';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { isUuid, returningRows } from '../../../kernel/db/values';
import type { HookRequest, HookResponse } from '../../../kernel/http/hooks';
import { dataKey } from '../../../kernel/keys';
import { logger } from '../../../kernel/log';
import { openSecret, sealSecret } from '../../../kernel/secret-box';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TEXT_LIMITS, cleanName, isStorableText, unstorableTextMessage } from '../../../kernel/text';
import { Message } from '../messages/message.entity';
import { toEvent } from '../messages/message.service';
import { MESSAGE_MAX_LENGTH } from '../messages/message.types';
import { MessagingErrorCode, messagingError } from '../messaging.errors';
import { Room } from '../rooms/room.entity';
import { cleanText, usableRoom } from '../rooms/room.service';
import { RoomEventKind, publishRoomEvent } from '../realtime/room-events';
import { CreatedRoomWebhook, RoomWebhook } from './webhook.types';

interface WebhookRow {
  id: string;
  room_id: string;
  name: string;
  secret_sealed: string;
  created_at: Date;
}

const log = logger('messaging.webhooks');

/** A webhook call whose path and signature headers are well formed (not yet checked against the webhook). */
interface SignedCall {
  tenantId: string;
  webhookId: string;
  timestamp: string;
  signature: string;
}

/** HTTP status of a call the tenant's admission refuses (its status, or a limit). */
const ADMISSION_REFUSAL_STATUS: Record<string, number> = { QUOTA_EXCEEDED: 429, NOT_FOUND: 404 };

function view(tenantId: string, r: WebhookRow): RoomWebhook {
  return Object.assign(new RoomWebhook(), {
    id: r.id,
    roomId: r.room_id,
    name: r.name,
    path: `/hooks/messaging/${tenantId}/${r.id}`,
    createdAt: r.created_at,
  });
}

function refusal(status: number, code: string, message: string): HookResponse {
  return { status, body: { error: { code, message } } };
}

/** `v1=<hex>`: HMAC-SHA256 over `<timestamp>.<raw body>` with the webhook's secret. */
export function webhookSignature(secret: string, timestamp: string, body: Buffer): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/**
 * Inbound automation: a tenant's webhook posts system messages into one room. Calls carry
 * `Nexus-Timestamp` (Unix seconds) and `Nexus-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`;
 * a call is refused unless signed with the webhook's secret, within WEBHOOK_TOLERANCE_SECONDS of now,
 * and never seen before (each signature is accepted once). Secrets are sealed at rest. Only an authenticated,
 * valid call is admitted for its tenant (status, messages limit), as the sendMessage it is: who cannot sign
 * learns nothing about the tenant.
 */
export class WebhookService {
  constructor(private readonly deps: SubgraphDeps) {}

  private sealContext(tenantId: string, id: string): string {
    return `messaging.webhook:${tenantId}:${id}`;
  }

  async create(ctx: RequestContext, roomId: string, rawName: string): Promise<CreatedRoomWebhook> {
    const name = cleanName(rawName ?? '');
    if (name.length < 1 || name.length > TEXT_LIMITS.webhookName)
      throw messagingError(MessagingErrorCode.INVALID_WEBHOOK);
    const secret = `whsec_${randomBytes(32).toString('base64url')}`;
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const room = await usableRoom(em, ctx, tenantId, roomId);
      const id = randomUUID();
      const sealed = sealSecret(dataKey(this.deps.keys), secret, this.sealContext(tenantId, id));
      const [row]: WebhookRow[] = await em.query(
        `INSERT INTO messaging.webhooks (tenant_id, id, room_id, name, secret_sealed, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
        [tenantId, id, room.id, name, sealed, ctx.userId],
      );
      return Object.assign(new CreatedRoomWebhook(), { webhook: view(tenantId, row), secret });
    });
  }

  list(ctx: RequestContext, roomId: string): Promise<RoomWebhook[]> {
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const room = await usableRoom(em, ctx, tenantId, roomId);
      const rows: WebhookRow[] = await em.query(
        `SELECT * FROM messaging.webhooks WHERE tenant_id = $1 AND room_id = $2 ORDER BY created_at`,
        [tenantId, room.id],
      );
      return rows.map((r) => view(tenantId, r));
    });
  }

  delete(ctx: RequestContext, id: string): Promise<boolean> {
    if (!isUuid(id)) throw messagingError(MessagingErrorCode.WEBHOOK_NOT_FOUND);
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const gone = returningRows(
        await em.query(`DELETE FROM messaging.webhooks WHERE tenant_id = $1 AND id = $2 RETURNING id`, [tenantId, id]),
      );
      if (gone.length === 0) throw messagingError(MessagingErrorCode.WEBHOOK_NOT_FOUND);
      return true;
    });
  }

  /** POST /hooks/messaging/<tenantId>/<webhookId>, body `{ "text": "…" }`. */
  async receive(req: HookRequest): Promise<HookResponse> {
    const call = this.signedCall(req);
    if ('status' in call) return call;
    const { tenantId, webhookId } = call;
    const ctx = systemContext(`webhook-${webhookId}`, tenantId);
    const outcome = await withTenant(this.deps.ds, ctx, (em) => this.deliver(em, req, call)).catch((err) => {
      // Refused after the delivery was recorded: the transaction rolls back, so nothing is kept.
      if (err instanceof HookRefusal) return err.response;
      throw err;
    });
    if (!('message' in outcome)) {
      log.warn(
        { tenantId, webhookId, status: outcome.status, code: (outcome.body as { error: { code: string } }).error.code },
        'webhook call refused',
      );
      return outcome;
    }
    const { message } = outcome;
    noteEffect(tenantId, 'messages');
    await publishRoomEvent(this.deps, {
      tenantId,
      roomId: message.roomId,
      kind: RoomEventKind.MESSAGE_ADDED,
      messageId: message.id,
      userId: null,
      snapshot: toEvent(message),
    });
    return { status: 201, body: { messageId: message.id } };
  }

  /** The call's webhook and signature headers, or the refusal of a call that cannot be one. */
  private signedCall(req: HookRequest): SignedCall | HookResponse {
    const [tenantId, webhookId, ...rest] = req.path.split('/');
    if (req.method !== 'POST') return refusal(405, 'METHOD_NOT_ALLOWED', 'Webhooks take POST');
    if (rest.length || !isUuid(tenantId) || !isUuid(webhookId))
      return refusal(404, 'WEBHOOK_NOT_FOUND', 'Webhook not found');
    const timestamp = req.headers['nexus-timestamp'] ?? '';
    const signature = req.headers['nexus-signature'] ?? '';
    if (!/^\d{1,12}$/.test(timestamp) || !/^v1=[0-9a-f]{64}$/.test(signature)) {
      return this.refuse(
        tenantId,
        webhookId,
        401,
        'INVALID_SIGNATURE',
        'Nexus-Timestamp and Nexus-Signature (v1=<hex HMAC-SHA256>) are required',
      );
    }
    return { tenantId, webhookId, timestamp, signature };
  }

  /** In the tenant's transaction: the authenticated call's message, admitted and stored (or its refusal). */
  private async deliver(
    em: EntityManager,
    req: HookRequest,
    call: SignedCall,
  ): Promise<HookResponse | { message: Message }> {
    const { tenantId } = call;
    const hook = await this.authenticate(em, req, call);
    if ('status' in hook) return hook;
    const body = webhookText(req.body);
    const room = await em.findOneByOrFail(Room, { tenantId, id: hook.room_id });
    if (room.archivedAt) throw new HookRefusal(refusal(409, 'ROOM_ARCHIVED', 'This room is archived'));
    // Authenticated and valid: now the tenant's admission (asked of the gateway the first time, kernel/admission.ts).
    admitMessage(tenantId);
    const id = randomUUID();
    await em.query(
      `INSERT INTO messaging.messages (tenant_id, id, room_id, author_id, sender_name, body) VALUES ($1, $2, $3, NULL, $4, $5)`,
      [tenantId, id, room.id, hook.name, body],
    );
    return { message: Object.assign(await em.findOneByOrFail(Message, { tenantId, id }), { room }) };
  }

  /** The webhook, if the call is signed with its secret, recent, and not seen before; otherwise the refusal. */
  private async authenticate(
    em: EntityManager,
    req: HookRequest,
    { tenantId, webhookId, timestamp, signature }: SignedCall,
  ): Promise<WebhookRow | HookResponse> {
    const tolerance = this.deps.config.realtime.WEBHOOK_TOLERANCE_SECONDS;
    const [hook]: WebhookRow[] = await em.query(`SELECT * FROM messaging.webhooks WHERE tenant_id = $1 AND id = $2`, [
      tenantId,
      webhookId,
    ]);
    if (!hook) return refusal(404, 'WEBHOOK_NOT_FOUND', 'Webhook not found');
    const secret = openSecret(dataKey(this.deps.keys), hook.secret_sealed, this.sealContext(tenantId, hook.id));
    const expected = Buffer.from(webhookSignature(secret, timestamp, req.body));
    if (expected.length !== signature.length || !timingSafeEqual(expected, Buffer.from(signature))) {
      return refusal(401, 'INVALID_SIGNATURE', 'The signature does not match this webhook');
    }
    if (Math.abs(Date.now() / 1000 - Number(timestamp)) > tolerance) {
      return refusal(401, 'STALE_TIMESTAMP', `Nexus-Timestamp must be within ${tolerance} seconds of now`);
    }
    // Each signed call is accepted once; signatures older than the tolerance cannot be replayed anyway.
    await em.query(
      `DELETE FROM messaging.webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2 AND received_at < now() - make_interval(secs => $3)`,
      [tenantId, hook.id, tolerance * 2],
    );
    const fresh = returningRows(
      await em.query(
        `INSERT INTO messaging.webhook_deliveries (tenant_id, webhook_id, signature) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING signature`,
        [tenantId, hook.id, signature],
      ),
    );
    if (fresh.length === 0) return refusal(409, 'REPLAYED', 'This call was already received');
    return hook;
  }

  private refuse(tenantId: string, webhookId: string, status: number, code: string, message: string): HookResponse {
    log.warn({ tenantId, webhookId, status, code }, 'webhook call refused');
    return refusal(status, code, message);
  }
}

/** The message text of a webhook call's JSON body, or a HookRefusal (400). */
function webhookText(raw: Buffer): string {
  let text: unknown;
  try {
    text = (JSON.parse(raw.toString('utf8')) as { text?: unknown }).text;
  } catch {
    text = undefined;
  }
  if (typeof text === 'string' && !isStorableText(text))
    throw new HookRefusal(refusal(400, 'BAD_USER_INPUT', unstorableTextMessage('text')));
  const body = cleanText(typeof text === 'string' ? text : '');
  if (body.length < 1 || body.length > MESSAGE_MAX_LENGTH) {
    throw new HookRefusal(
      refusal(400, 'INVALID_MESSAGE', `Send JSON {"text": "…"} with 1 to ${MESSAGE_MAX_LENGTH} characters`),
    );
  }
  return body;
}

/** Spends one of the tenant's messages, as a sendMessage; a refusal of its admission becomes a HookRefusal. */
function admitMessage(tenantId: string): void {
  try {
    spend(tenantId, 'messages', 'sendMessage');
  } catch (err) {
    if (err instanceof AdmissionRequired || !(err instanceof AppError)) throw err;
    throw new HookRefusal(
      refusal(ADMISSION_REFUSAL_STATUS[String(err.extensions.code)] ?? 403, String(err.extensions.code), err.message),
    );
  }
}

class HookRefusal extends Error {
  constructor(readonly response: HookResponse) {
    super(String(response.body));
  }
}
