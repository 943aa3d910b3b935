import { GraphQLError } from 'graphql';
import type { WebSocket } from 'ws';

/** Close codes clients act on: 4401 sign in again, 4403 no longer allowed. */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;
/**
 * The caller cannot be checked right now (identity unreachable, the revocation list stale): reconnect
 * shortly (WebSocket "Try Again Later", which graphql-ws clients retry), never "sign in again".
 */
export const CLOSE_TRY_AGAIN_LATER = 1013;
/** The caller could not be checked for an unexpected reason (a bug, logged): not a verdict on the credential. */
export const CLOSE_INTERNAL_ERROR = 1011;
/** A client this far behind on its events is disconnected (it reconnects and catches up from history). */
export const CLOSE_TOO_SLOW = 4408;
/** Too many connections for the user or from the address (as HTTP 429): the socket is closed. */
export const CLOSE_TOO_MANY = 4429;

/** Whether a check failed because what it needs is unavailable (then: CLOSE_TRY_AGAIN_LATER). */
export const checksUnavailable = (err: unknown): boolean =>
  err instanceof GraphQLError && err.extensions.code === 'SERVICE_UNAVAILABLE';

/** Closes an open socket with `code`; false, for handlers that answer "not allowed". */
export function closeSocket(socket: WebSocket, code: number, reason: string): false {
  if (socket.readyState === socket.OPEN) socket.close(code, reason);
  return false;
}
