/**
 * Telling "the service cannot be reached now, try again shortly" (SERVICE_UNAVAILABLE, 503) from a bug
 * (INTERNAL_SERVER_ERROR), for the gateway's calls to subgraphs.
 */

/** What a service, or a balancer in front of it, answers when it cannot serve now. */
export const UNAVAILABLE_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

/** Node's and undici's codes for a connection that could not be made, was lost, or timed out. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * Whether a failed fetch means the other side is unreachable: refused, reset, name not resolved, or timed
 * out (AbortSignal.timeout). Anything else (a malformed request, a bug) is not.
 */
export function isUnreachable(err: unknown): boolean {
  for (
    let e: unknown = err, depth = 0;
    e && typeof e === 'object' && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const { name, code } = e as { name?: unknown; code?: unknown };
    if (name === 'TimeoutError') return true;
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
  }
  return false;
}
