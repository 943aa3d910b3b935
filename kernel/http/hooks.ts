import { isUuid } from '../db/values';
import type { SubgraphName } from '../services';

/**
 * Public HTTP endpoints a subgraph serves through the gateway (`GET|POST /hooks/<subgraph>/<path>`), for
 * callers that are not GraphQL clients: automation tools posting signed webhooks, browsers following
 * single sign-on redirects. The gateway passes the method, query string, raw body and the headers below
 * through unchanged; the subgraph authenticates the call itself.
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
export const HOOK_HEADERS = ['content-type', 'nexus-timestamp', 'nexus-signature', 'user-agent', 'accept', 'cookie'] as const;

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
  // eslint-disable-next-line no-control-regex
  return segments.length > 0 && segments.every((s) => s !== '' && s !== '.' && s !== '..' && !/[/\\\u0000-\u001f]/.test(s) && s.length <= 200);
}

/**
 * Hooks that act for one tenant, by subgraph: the tenant is the first segment of the path
 * (`/hooks/<subgraph>/<tenant id>/…`) and `actsAs` is the mutation whose effect a call has. The gateway
 * admits such a call as that mutation of that tenant — refused while the tenant is suspended, expired or
 * deleted, or when it has used the limit the mutation uses — and counts it against the tenant's usage
 * when the hook answers 2xx (which such a hook does only when the call took effect).
 */
export const TENANT_HOOKS: Partial<Record<SubgraphName, { actsAs: string }>> = {
  messaging: { actsAs: 'sendMessage' },
};

/** The tenant a hook call acts for and the mutation it acts as; null for hooks that act for no tenant. */
export function tenantHook(subgraph: string, segments: readonly string[]): { tenantId: string; actsAs: string } | null {
  const hook = TENANT_HOOKS[subgraph as SubgraphName];
  return hook && isUuid(segments[0]) ? { tenantId: segments[0].toLowerCase(), actsAs: hook.actsAs } : null;
}
