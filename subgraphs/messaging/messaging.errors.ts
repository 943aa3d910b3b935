import { defineErrors } from '../../kernel/errors';
import { TEXT_LIMITS } from '../../kernel/text';

export enum MessagingErrorCode {
  ROOM_NOT_FOUND = 'ROOM_NOT_FOUND',
  INVALID_ROOM_NAME = 'INVALID_ROOM_NAME',
  INVALID_MESSAGE = 'INVALID_MESSAGE',
  INVALID_CURSOR = 'INVALID_CURSOR',
  MESSAGE_NOT_FOUND = 'MESSAGE_NOT_FOUND',
  NOT_MESSAGE_AUTHOR = 'NOT_MESSAGE_AUTHOR',
  MESSAGE_DELETED = 'MESSAGE_DELETED',
  INVALID_CLIENT_MESSAGE_ID = 'INVALID_CLIENT_MESSAGE_ID',
  INVALID_ROOM = 'INVALID_ROOM',
  NOT_IN_TENANT = 'NOT_IN_TENANT',
  ROOM_ARCHIVED = 'ROOM_ARCHIVED',
  NOT_ROOM_ADMIN = 'NOT_ROOM_ADMIN',
  BANNED_FROM_ROOM = 'BANNED_FROM_ROOM',
  MEMBER_MUTED = 'MEMBER_MUTED',
  INVALID_MODERATION = 'INVALID_MODERATION',
  INVALID_PRESENCE = 'INVALID_PRESENCE',
  INVALID_WEBHOOK = 'INVALID_WEBHOOK',
  WEBHOOK_NOT_FOUND = 'WEBHOOK_NOT_FOUND',
}

export const messagingError = defineErrors<MessagingErrorCode>({
  ROOM_NOT_FOUND: 'Room not found',
  INVALID_ROOM_NAME: `Room name must be 1 to ${TEXT_LIMITS.roomName} characters`,
  INVALID_MESSAGE: `Message must be 1 to ${TEXT_LIMITS.message} characters`,
  INVALID_CURSOR: 'Cursor is not valid',
  MESSAGE_NOT_FOUND: 'Message not found',
  NOT_MESSAGE_AUTHOR: 'Only its author can change this message',
  MESSAGE_DELETED: 'This message was deleted',
  INVALID_CLIENT_MESSAGE_ID: 'clientMessageId must be 1 to 100 characters',
  INVALID_ROOM: 'Room settings are not valid',
  NOT_IN_TENANT: 'That person is not a member of this tenant',
  ROOM_ARCHIVED: 'This room is archived',
  NOT_ROOM_ADMIN: "Only the room's owner or admins can do this",
  BANNED_FROM_ROOM: 'You are banned from this room',
  MEMBER_MUTED: 'You are muted in this room',
  INVALID_MODERATION: 'This moderation action is not valid',
  INVALID_PRESENCE: 'Presence must name a device (1 to 100 characters) and a page of at most 300 characters',
  INVALID_WEBHOOK: `Webhook name must be 1 to ${TEXT_LIMITS.webhookName} characters`,
  WEBHOOK_NOT_FOUND: 'Webhook not found',
});
