import { defineErrors } from '../../kernel/errors';

export enum MessagingErrorCode {
  ROOM_NOT_FOUND = 'ROOM_NOT_FOUND',
  INVALID_ROOM_NAME = 'INVALID_ROOM_NAME',
  INVALID_MESSAGE = 'INVALID_MESSAGE',
  INVALID_CURSOR = 'INVALID_CURSOR',
}

export const messagingError = defineErrors<MessagingErrorCode>({
  ROOM_NOT_FOUND: 'Room not found',
  INVALID_ROOM_NAME: 'Room name must be 1 to 80 characters',
  INVALID_MESSAGE: 'Message must be 1 to 4000 characters',
  INVALID_CURSOR: 'Cursor is not valid',
});
