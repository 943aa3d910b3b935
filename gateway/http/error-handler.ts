import type express from 'express';
import { logger } from '../../kernel/log';

const log = logger('gateway');

/** Last in the pipeline: a request express itself refused (body too large, malformed JSON), as a GraphQL error. */
export function errorHandler(
  err: Error & { status?: number; type?: string },
  _req: express.Request,
  res: express.Response,
  next: express.NextFunction,
): void {
  if (res.headersSent) return next(err);
  const status = err.status ?? 500;
  const code =
    err.type === 'entity.too.large' ? 'PAYLOAD_TOO_LARGE' : status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR';
  if (status >= 500) log.error({ err }, 'request failed');
  res
    .status(status)
    .json({ errors: [{ message: status < 500 ? err.message : 'Internal server error', extensions: { code } }] });
}
