import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { logger } from './log';

/** Codes shared by every service. Subgraphs add their own codes in `<name>.errors.ts`. */
export enum KernelErrorCode {
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  TENANT_REQUIRED = 'TENANT_REQUIRED',
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  NOT_FOUND = 'NOT_FOUND',
  INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR',
  SERVICE_UNAVAILABLE = 'SERVICE_UNAVAILABLE',
}

/**
 * An error meant for the client: its message and code are safe to show. Resolver errors travel with
 * HTTP 200 (GraphQL convention); only the gateway's own request checks set `httpStatus`.
 */
export class AppError extends GraphQLError {
  constructor(
    code: string,
    message: string,
    extra: Record<string, unknown> = {},
    httpStatus?: number,
    httpHeaders?: Record<string, string>,
  ) {
    const headers = httpHeaders ? { headers: new Map(Object.entries(httpHeaders)) } : {};
    super(message, {
      extensions: { code, ...extra, ...(httpStatus ? { http: { status: httpStatus, ...headers } } : {}) },
    });
  }
}

/** How long a client is asked to wait (`Retry-After`, seconds) when a service a request needs is down. */
export const RETRY_AFTER_SECONDS = 5;

/**
 * A service the request needs cannot answer right now: HTTP 503 with `Retry-After`, so a client can tell
 * "try again shortly" from a bug. The whole response gets that status, partial data included.
 */
export const serviceUnavailable = (
  message = 'A service this request needs is unavailable right now; try again shortly',
) =>
  new AppError(KernelErrorCode.SERVICE_UNAVAILABLE, message, {}, 503, { 'retry-after': String(RETRY_AFTER_SECONDS) });

export const unauthenticated = (message = 'Authentication required', httpStatus?: number) =>
  new AppError(KernelErrorCode.UNAUTHENTICATED, message, {}, httpStatus);
export const forbidden = (message = 'You do not have permission to do this', httpStatus?: number) =>
  new AppError(KernelErrorCode.FORBIDDEN, message, {}, httpStatus);

const log = logger('errors');

/**
 * Apollo `formatError`: coded GraphQL errors (ours, GraphQL's own, or passed on by a subgraph) go through;
 * anything unexpected (a thrown Error, a database failure) is logged with the request id and returned as
 * a generic INTERNAL_SERVER_ERROR (no stack, no SQL) outside development.
 */
export function makeFormatError(production: boolean) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
    const code = formatted.extensions?.code as string | undefined;
    // A GraphQLError, or an error object relayed from a subgraph (already masked there), is client-safe.
    const clientSafe = original instanceof GraphQLError || !(original instanceof Error);
    const coded = clientSafe && code !== undefined && code !== KernelErrorCode.INTERNAL_SERVER_ERROR;
    if (coded) {
      if (!production) return formatted;
      const {
        stacktrace: _stack,
        exception: _exception,
        serviceName: _service,
        ...extensions
      } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    log.error({ err: original }, 'unexpected error');
    if (!production) return formatted;
    return {
      message: 'Internal server error',
      path: formatted.path,
      extensions: { code: KernelErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}

/**
 * A subgraph's error module: every code has a default client message (the Record type makes the mapping
 * exhaustive); `error(code, message?)` builds the GraphQL error with `extensions.code`.
 */
export function defineErrors<C extends string>(messages: Record<C, string>) {
  return (code: C, message: string = messages[code]): AppError => new AppError(code, message);
}
