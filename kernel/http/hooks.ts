/**
 * Public HTTP endpoints a subgraph serves through the gateway (`GET|POST /hooks/<subgraph>/<path>`), for
 * callers that are not GraphQL clients: automation tools posting signed webhooks, browsers following
 * single sign-on redirects. The gateway passes the method, query string, raw body and the headers below
 * through unchanged; the subgraph authenticates the call itself. A hook that acts for a tenant asks the gateway
 * to admit that tenant once the caller is authenticated, and reports what it created (kernel/admission.ts).
 */
export interface HookRequest {
  method: 'GET' | 'POST';
  /** What follows `/hooks/<subgraph>/`. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

export interface HookResponse {
  status: number;
  /** JSON (an object) or text (HTML, XML) with its content type. */
  body: Record<string, unknown> | string;
  headers?: Record<string, string>;
}

export type HookHandler = (req: HookRequest) => Promise<HookResponse>;

/** Request headers the gateway forwards to a hook. */
export const HOOK_HEADERS = [
  'content-type',
  'nexus-timestamp',
  'nexus-signature',
  'stripe-signature',
  'user-agent',
  'accept',
  'cookie',
] as const;

/** Response headers a hook may set. */
export const HOOK_RESPONSE_HEADERS = ['content-type', 'location', 'cache-control', 'set-cookie'] as const;

/** Largest hook body accepted. */
export const HOOK_MAX_BYTES = 256 * 1024;

/** The client's address as the gateway saw it, forwarded to hooks. */
export const HOOK_CLIENT_IP_HEADER = 'x-nexus-client-ip';

/** The gateway's own origin as the client reached it (`https://host`), forwarded to hooks that build absolute URLs. */
export const HOOK_ORIGIN_HEADER = 'x-nexus-public-origin';

/**
 * The audience of the context token the gateway signs for a hook call: a token for hooks is refused by
 * the subgraph's GraphQL and internal endpoints (and theirs by hooks).
 */
export function hookAudience(subgraph: string): string {
  return `${subgraph}#hooks`;
}

/** Path segments a hook path may have (no empty, `.` or `..` segment, no separators or control characters). */
export function safeHookPath(segments: readonly string[]): boolean {
  return (
    segments.length > 0 &&
    // eslint-disable-next-line no-control-regex
    segments.every((s) => s !== '' && s !== '.' && s !== '..' && !/[/\\\u0000-\u001f]/.test(s) && s.length <= 200)
  );
}
