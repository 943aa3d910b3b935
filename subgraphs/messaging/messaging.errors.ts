import { defineErrors } from '../../kernel/errors';

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
}

export const messagingError = defineErrors<MessagingErrorCode>({
  ROOM_NOT_FOUND: 'Room not found',
  INVALID_ROOM_NAME: 'Room name must be 1 to 80 characters',
  INVALID_MESSAGE: 'Message must be 1 to 4000 characters',
  INVALID_CURSOR: 'Cursor is not valid',
  MESSAGE_NOT_FOUND: 'Message not found',
  NOT_MESSAGE_AUTHOR: 'Only its author can change this message',
  MESSAGE_DELETED: 'This message was deleted',
  INVALID_CLIENT_MESSAGE_ID: 'clientMessageId must be 1 to 100 characters',
  INVALID_ROOM: 'Room settings are not valid',
  NOT_IN_TENANT: 'That person is not a member of this tenant',
  ROOM_ARCHIVED: 'This room is archived',
  NOT_ROOM_ADMIN: "Only the room's owner or admins can do this",
});
