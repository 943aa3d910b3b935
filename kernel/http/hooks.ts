/**
 * Public HTTP endpoints a subgraph serves through the gateway (`POST /hooks/<subgraph>/<path>`), for
 * callers that are not GraphQL clients (automation tools posting signed webhooks). The gateway passes
 * the raw body and the headers below through unchanged; the subgraph authenticates the call itself.
 */
export interface HookRequest {
  /** What follows `/hooks/<subgraph>/`. */
  path: string;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

export interface HookResponse {
  status: number;
  body: Record<string, unknown>;
}

export type HookHandler = (req: HookRequest) => Promise<HookResponse>;

/** Request headers the gateway forwards to a hook. */
export const HOOK_HEADERS = ['content-type', 'nexus-timestamp', 'nexus-signature', 'user-agent'] as const;

/** Largest hook body accepted. */
export const HOOK_MAX_BYTES = 64 * 1024;
