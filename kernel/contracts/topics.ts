import { z } from 'zod';

/**
 * Every pub/sub topic and the message it carries (JSON). `PubSub.publish`/`listen`/`iterate` are typed by
 * topic, and a message that arrives from Redis is checked against its topic's schema before any listener
 * sees it. Per-tenant and per-room topics are families (template-literal types) built by the functions below.
 */

const id = z.uuid();

/** A session was signed out; gateways end it at once. */
export const SESSION_REVOKED_TOPIC = 'platform.session_revoked';
/** A tenant's status changed (active, suspended, trial_expired, deleted, purged); gateways end or allow its members' requests at once. */
export const TENANT_STATUS_CHANGED_TOPIC = 'platform.tenant_status_changed';
/** An API key was revoked; gateways forget it at once. */
export const API_KEY_REVOKED_TOPIC = 'platform.api_key_revoked';
/** Roles, groups or assignments changed; gateways re-read permissions on the next request. */
export const PERMISSIONS_CHANGED_TOPIC = 'platform.permissions_changed';
/** A custom domain was verified, lost its verification or was removed; gateways forget what they knew of it. */
export const DOMAINS_CHANGED_TOPIC = 'platform.domains_changed';
/** A tenant's plan-of-record limits changed; gateways read its quota status again. */
export const LIMITS_CHANGED_TOPIC = 'platform.limits_changed';
/** Someone's access to subscriptions changed (left a room, banned…); gateways admit their live subscriptions again (no userIds: everyone in the tenant). */
export const SUBSCRIPTION_ACCESS_CHANGED_TOPIC = 'platform.subscription_access_changed';
/** A client's WebSocket connection to a gateway closed (its presence there ends). */
export const CONNECTION_CLOSED_TOPIC = 'platform.connection_closed';

const tenantOnly = z.object({ tenantId: id });

/** Topics with one fixed name, and their messages. */
export const PLATFORM_TOPIC_SCHEMAS = {
  [SESSION_REVOKED_TOPIC]: z.object({
    sessionId: id,
    userId: id,
    tenantId: id.nullable(),
    /** When identity revoked it (ISO 8601, identity's clock); absent from older senders. */
    revokedAt: z.string().optional(),
  }),
  [TENANT_STATUS_CHANGED_TOPIC]: z.object({
    tenantId: id,
    status: z.enum(['active', 'suspended', 'trial_expired', 'deleted', 'purged']),
  }),
  [API_KEY_REVOKED_TOPIC]: z.object({ keyId: id, prefix: z.string().min(1) }),
  [PERMISSIONS_CHANGED_TOPIC]: tenantOnly,
  [DOMAINS_CHANGED_TOPIC]: z.object({ domain: z.string().min(1) }),
  [LIMITS_CHANGED_TOPIC]: tenantOnly,
  [SUBSCRIPTION_ACCESS_CHANGED_TOPIC]: z.object({ tenantId: id, userIds: z.array(id).optional() }),
  [CONNECTION_CLOSED_TOPIC]: z.object({ tenantId: id, userId: id, connectionId: z.string().min(1) }),
} as const;

/** What happened in a room (messaging's live events). */
export enum RoomEventKind {
  MESSAGE_ADDED = 'message_added',
  MESSAGE_EDITED = 'message_edited',
  MESSAGE_DELETED = 'message_deleted',
  /** Someone's read pointer moved (rooms whose read receipts are public). */
  READ = 'read',
}

/** A message as `messageAdded` subscribers get it. */
export const messageSnapshotSchema = z.object({
  tenantId: id,
  id,
  roomId: id,
  authorId: id.nullable(),
  senderName: z.string().nullable(),
  body: z.string(),
  createdAt: z.string(),
  room: z.object({ tenantId: id, id, name: z.string(), createdAt: z.string(), createdBy: z.string() }),
});
export type MessageSnapshot = z.infer<typeof messageSnapshotSchema>;

/** What travels on a room's topic (and the tenant's). */
export const roomEventMessageSchema = z.object({
  tenantId: id,
  roomId: id,
  kind: z.enum(RoomEventKind),
  messageId: id,
  /** The author of an added message, the reader of a READ. */
  userId: id.nullable(),
  at: z.number(),
  /** MESSAGE_ADDED: the message itself, for `messageAdded`. */
  snapshot: messageSnapshotSchema.optional(),
});
export type RoomEventMessage = z.infer<typeof roomEventMessageSchema>;

/** Someone typing in a room (or stopping), for `typing` subscribers. */
export const typingMessageSchema = z.object({
  tenantId: id,
  roomId: id,
  userId: id,
  typing: z.boolean(),
  expiresAt: z.number(),
});
export type TypingMessage = z.infer<typeof typingMessageSchema>;

/** A tenant's presence changes. */
export const presenceMessageSchema = z.object({ tenantId: id, userId: id });
export type PresenceMessage = z.infer<typeof presenceMessageSchema>;

export type RoomTopic = `messaging.room.${string}`;
export type TenantRoomsTopic = `messaging.rooms.${string}`;
export type TypingTopic = `messaging.typing.${string}`;
export type PresenceTopic = `messaging.presence.${string}`;

/** Topic of one room's events; the tenant is part of it, so one tenant's subscribers never see another's. */
export function roomTopic(tenantId: string, roomId: string): RoomTopic {
  return `messaging.room.${tenantId}.${roomId}`;
}

/** Every room event of a tenant (unread counts listen here). */
export function tenantRoomsTopic(tenantId: string): TenantRoomsTopic {
  return `messaging.rooms.${tenantId}`;
}

export function typingTopic(tenantId: string, roomId: string): TypingTopic {
  return `messaging.typing.${tenantId}.${roomId}`;
}

/** A tenant's presence changes: `{ tenantId, userId }`. */
export function presenceTopic(tenantId: string): PresenceTopic {
  return `messaging.presence.${tenantId}`;
}

/** Topic families, by the prefix their names start with (checked in this order). */
const FAMILY_SCHEMAS: readonly (readonly [string, z.ZodType])[] = [
  ['messaging.room.', roomEventMessageSchema],
  ['messaging.rooms.', roomEventMessageSchema],
  ['messaging.typing.', typingMessageSchema],
  ['messaging.presence.', presenceMessageSchema],
];

export type PlatformTopic = keyof typeof PLATFORM_TOPIC_SCHEMAS;

/** Whether a topic is one of the platform's own (revocations, statuses, access changes…), not a feature's family. */
export function isPlatformTopic(topic: string): topic is PlatformTopic {
  return Object.hasOwn(PLATFORM_TOPIC_SCHEMAS, topic);
}
export type Topic = PlatformTopic | RoomTopic | TenantRoomsTopic | TypingTopic | PresenceTopic;

/** The message a topic carries. */
export type TopicMessage<T extends Topic> = T extends PlatformTopic
  ? z.infer<(typeof PLATFORM_TOPIC_SCHEMAS)[T]>
  : T extends RoomTopic | TenantRoomsTopic
    ? RoomEventMessage
    : T extends TypingTopic
      ? TypingMessage
      : T extends PresenceTopic
        ? PresenceMessage
        : never;

function schemaOf(topic: string): z.ZodType | undefined {
  if (Object.hasOwn(PLATFORM_TOPIC_SCHEMAS, topic)) return PLATFORM_TOPIC_SCHEMAS[topic as PlatformTopic];
  return FAMILY_SCHEMAS.find(([prefix]) => topic.startsWith(prefix))?.[1];
}

/** Checks a message received on a topic: the message as its schema reads it, or the reason it was refused. */
export function parseTopicMessage<T extends Topic>(
  topic: T,
  message: unknown,
): { ok: true; message: TopicMessage<T> } | { ok: false; reason: string } {
  const schema = schemaOf(topic);
  if (!schema) return { ok: false, reason: 'unknown topic' };
  const parsed = schema.safeParse(message);
  if (!parsed.success) return { ok: false, reason: z.prettifyError(parsed.error) };
  // `schemaOf(topic)` is the schema TopicMessage<T> is inferred from.
  return { ok: true, message: parsed.data as TopicMessage<T> };
}
