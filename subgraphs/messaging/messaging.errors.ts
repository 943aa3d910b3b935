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
});
