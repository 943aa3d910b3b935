import type { KeyObject } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import {
  ADMISSION_REQUIRED_STATUS,
  EFFECTS_HEADER,
  admissionRequestSchema,
  effectsSchema,
  type MeteredMetric,
} from '../kernel/admission';
import { CONTEXT_HEADER, signContextToken } from '../kernel/context-token';
import { systemContext, type Admission } from '../kernel/context';
import {
  hookAudience,
  safeHookPath,
  HOOK_CLIENT_IP_HEADER,
  HOOK_HEADERS,
  HOOK_ORIGIN_HEADER,
  HOOK_MAX_BYTES,
  HOOK_RESPONSE_HEADERS,
} from '../kernel/http/hooks';
import { logger } from '../kernel/log';
import { AppError, KernelErrorCode, RETRY_AFTER_SECONDS } from '../kernel/errors';
import { admissionFor, type Grant } from './admission';
import { hookTextCheck } from './text-input';
import { isUnreachable, UNAVAILABLE_STATUSES } from './unavailable';

const log = logger('gateway.hooks');

/** The subgraph behind a hook cannot answer: 503 with Retry-After, as for GraphQL. */
function unavailable(res: Response): void {
  res.setHeader('retry-after', String(RETRY_AFTER_SECONDS));
  res.status(503).json({ error: { code: 'SERVICE_UNAVAILABLE', message: 'Try again shortly' } });
}

/** Extra query parameters the gateway adds to a forwarded call (e.g. the tenant it resolved). */
export type HookEnricher = (req: Request) => Promise<Record<string, string> | null>;

/** The tenant admission GraphQL operations go through (gateway/admission.ts), for hooks that act for a tenant. */
export interface HookAdmission {
  grant(
    tenantId: string,
    operation: 'mutation',
    fields: readonly string[],
    options: { metered: boolean },
  ): Promise<Grant>;
  settle(grant: Grant, effects?: Partial<Record<MeteredMetric, number>>): void;
}

/** What a hook reported creating for `tenantId` (kernel/admission.ts `EFFECTS_HEADER`). */
function reportedEffects(header: string | null, tenantId: string): Partial<Record<MeteredMetric, number>> {
  if (!header) return {};
  try {
    const parsed = effectsSchema.safeParse(JSON.parse(header));
    if (parsed.success) return parsed.data[tenantId] ?? {};
  } catch {
    // fall through
  }
  log.error({ tenantId }, 'a hook reported effects the gateway cannot read');
  return {};
}

/** What a grant let the call use: counted when the call's outcome is unknown (it may have taken effect). */
function grantedEffects(grant: Grant): Partial<Record<MeteredMetric, number>> {
  return Object.fromEntries(Object.entries(grant.allowance ?? {}).map(([metric, a]) => [metric, a?.granted ?? 0]));
}

type Send = (admissions: Admission[]) => Promise<globalThis.Response>;
type Forward = (
  req: Request,
  res: Response,
  subgraph: string,
  path: string[],
  extra: Record<string, string> | null,
) => Promise<void>;

/** The caller's query string, with what the gateway adds (`extra`) set over it. */
function forwardedQuery(req: Request, extra: Record<string, string> | null): string {
  const query = new URLSearchParams(
    req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '',
  );
  for (const [k, v] of Object.entries(extra ?? {})) query.set(k, v);
  return query.toString();
}

/** The caller's address and origin, and the hook headers it sent. */
function forwardedHeaders(req: Request): Record<string, string> {
  const headers: Record<string, string> = {
    [HOOK_CLIENT_IP_HEADER]: req.ip ?? '',
    [HOOK_ORIGIN_HEADER]: `${req.protocol}://${req.get('host') ?? 'localhost'}`,
  };
  for (const h of HOOK_HEADERS) {
    const v = req.header(h);
    if (v !== undefined) headers[h] = v;
  }
  return headers;
}

/** Sends the call to `target` with a context token for the subgraph's hooks, carrying `admissions`. */
function signedSender(
  req: Request,
  target: URL,
  subgraph: string,
  contextKey: KeyObject,
  post: boolean,
  headers: Record<string, string>,
): Send {
  return async (admissions: Admission[]) => {
    const ctx = { ...systemContext(`hook-${subgraph}`), ...(admissions.length ? { admissions } : {}) };
    return fetch(target, {
      method: post ? 'POST' : 'GET',
      // Signed for the subgraph's hooks only: its GraphQL and internal endpoints refuse this token.
      headers: { ...headers, [CONTEXT_HEADER]: await signContextToken(ctx, hookAudience(subgraph), contextKey) },
      body: post ? (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)) : undefined,
      redirect: 'manual',
      signal: AbortSignal.timeout(15_000),
    });
  };
}

/**
 * The subgraph answered 428 (`first`): admits the tenant it names and sends the call again with that admission,
 * then settles the grant with what the subgraph reported creating. `held.grant` is the grant while its outcome
 * is unknown (the caller counts it as granted if the call fails then).
 */
async function sendAdmitted(
  first: globalThis.Response,
  send: Send,
  subgraph: string,
  admission: HookAdmission,
  held: { grant: Grant | null },
): Promise<globalThis.Response> {
  const asked = admissionRequestSchema.safeParse(
    ((await first.json().catch(() => null)) as { admissionRequired?: unknown } | null)?.admissionRequired,
  );
  if (!asked.success) throw new Error(`${subgraph} asked for an admission the gateway cannot read`);
  const grant = await admission.grant(asked.data.tenantId, 'mutation', [asked.data.actsAs], { metered: true });
  held.grant = grant;
  const upstream = await send([admissionFor(grant)]);
  if (upstream.status === ADMISSION_REQUIRED_STATUS) {
    admission.settle(grant); // it acts only once admitted: nothing happened
    held.grant = null;
    throw new Error(`${subgraph} asked twice for an admission`);
  }
  const reported = upstream.headers.get(EFFECTS_HEADER);
  // A balancer's 502/504 leaves the outcome unknown: counted as granted, like a call that got no answer.
  admission.settle(
    grant,
    reported === null && UNAVAILABLE_STATUSES.has(upstream.status)
      ? grantedEffects(grant)
      : reportedEffects(reported, grant.tenantId),
  );
  held.grant = null;
  return upstream;
}

/** Passes the subgraph's answer on: status, body and the hook response headers. */
async function relay(res: Response, upstream: globalThis.Response, subgraph: string): Promise<void> {
  // The subgraph (or a balancer in front of it) cannot serve now: the same answer as when it cannot be
  // reached, never the balancer's page or headers.
  if (UNAVAILABLE_STATUSES.has(upstream.status)) {
    await upstream.body?.cancel().catch(() => undefined);
    log.warn({ subgraph, status: upstream.status }, 'hook target unavailable');
    unavailable(res);
    return;
  }
  for (const h of HOOK_RESPONSE_HEADERS) {
    const v = upstream.headers.get(h);
    if (v !== null) res.setHeader(h, v);
  }
  const body = Buffer.from(await upstream.arrayBuffer());
  res.status(upstream.status).send(body);
}

function forwardFailed(err: unknown, res: Response, subgraph: string, admission: HookAdmission, grant: Grant | null) {
  // Admitted, then no answer: the call may have taken effect, so what it was granted is counted.
  if (grant) admission.settle(grant, grantedEffects(grant));
  if (isUnreachable(err) || (err instanceof AppError && err.extensions.code === KernelErrorCode.SERVICE_UNAVAILABLE)) {
    log.error({ err, subgraph }, 'hook target unreachable');
    unavailable(res);
    return;
  }
  log.error({ err, subgraph }, 'hook forwarding failed');
  if (!res.headersSent)
    res.status(500).json({ error: { code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' } });
}

/** Forwards one hook call to `subgraph` at `path` (see hooksProxy). */
function hookForwarder(
  subgraphUrl: (name: string) => string | undefined,
  contextKey: KeyObject,
  admission: HookAdmission,
): Forward {
  return async (req, res, subgraph, path, extra) => {
    const base = subgraphUrl(subgraph);
    if (!base || !safeHookPath(path)) {
      res.status(404).json({ error: { code: 'NOT_FOUND', message: 'No such hook' } });
      return;
    }
    const qs = forwardedQuery(req, extra);
    const headers = forwardedHeaders(req);
    const post = req.method === 'POST';
    if (post) headers['content-type'] ??= 'application/octet-stream';
    const held: { grant: Grant | null } = { grant: null };
    try {
      const target = new URL(
        base.replace(/\/graphql$/, `/hooks/${path.map(encodeURIComponent).join('/')}${qs ? `?${qs}` : ''}`),
      );
      if (!target.pathname.startsWith('/hooks/')) {
        res.status(404).json({ error: { code: 'NOT_FOUND', message: 'No such hook' } });
        return;
      }
      const send = signedSender(req, target, subgraph, contextKey, post, headers);
      let upstream = await send([]);
      if (upstream.status === ADMISSION_REQUIRED_STATUS)
        upstream = await sendAdmitted(upstream, send, subgraph, admission, held);
      await relay(res, upstream, subgraph);
    } catch (err) {
      forwardFailed(err, res, subgraph, admission, held.grant);
    }
  };
}

/**
 * Public HTTP endpoints of subgraphs: `GET|POST /hooks/<subgraph>/<path>` is forwarded to that subgraph's
 * hook endpoint with its query string, raw body and hook headers, signed as the gateway, and the answer
 * (status, body, content type, redirect location) comes back as it is. `/sso/<path>` is identity's
 * `sso/<path>` (single sign-on for browsers). The subgraph authenticates the caller itself. Text the call
 * carries is checked like GraphQL input (gateway/text-input.ts). A hook that acts for a tenant asks for its
 * admission once the call proved it concerns that tenant (HTTP 428, kernel/admission.ts): the tenant is
 * admitted like the mutation the hook acts as, and the call is sent again with that admission; the subgraph
 * answers the refusal itself, after its own checks of the caller, and reports what it created, which is what
 * is counted. So a caller without a webhook's secret neither learns a tenant's status or limits nor makes
 * the gateway look a tenant up.
 */
export function hooksProxy(
  subgraphUrl: (name: string) => string | undefined,
  contextKey: KeyObject,
  enrichSso: HookEnricher,
  admission: HookAdmission,
): Router {
  const router = express.Router();
  const forward = hookForwarder(subgraphUrl, contextKey, admission);
  const pathOf = (req: Request) => ([] as string[]).concat((req.params as { path?: string | string[] }).path ?? []);
  const raw = express.raw({ type: () => true, limit: HOOK_MAX_BYTES });
  for (const route of [router.get.bind(router), router.post.bind(router)]) {
    route(
      '/hooks/:subgraph/{*path}',
      raw,
      hookTextCheck,
      (req, res) => void forward(req, res, req.params.subgraph as string, pathOf(req), null),
    );
    route(
      '/sso/{*path}',
      raw,
      hookTextCheck,
      (req, res) =>
        void enrichSso(req)
          .then((extra) => forward(req, res, 'identity', ['sso', ...pathOf(req)], extra))
          .catch((err) => {
            log.error({ err }, 'sso routing failed');
            unavailable(res);
          }),
    );
  }
  return router;
}
