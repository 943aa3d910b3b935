import type { KeyObject } from 'node:crypto';
import express, { type Router } from 'express';
import { CONTEXT_HEADER, signContextToken } from '../kernel/context-token';
import { systemContext } from '../kernel/context';
import { HOOK_HEADERS, HOOK_MAX_BYTES } from '../kernel/http/hooks';
import { logger } from '../kernel/log';

const log = logger('gateway.hooks');

/**
 * POST /hooks/<subgraph>/<path>: forwards the raw body and the hook headers to that subgraph's hook
 * endpoint, signed as the gateway, and returns its answer as it is. The subgraph authenticates the caller
 * (e.g. a webhook's HMAC signature); the gateway only routes and bounds the size.
 */
export function hooksProxy(subgraphUrl: (name: string) => string | undefined, contextKey: KeyObject): Router {
  const router = express.Router();
  router.post('/hooks/:subgraph/{*path}', express.raw({ type: () => true, limit: HOOK_MAX_BYTES }), async (req, res) => {
    const subgraph = req.params.subgraph as string;
    const base = subgraphUrl(subgraph);
    if (!base) {
      res.status(404).json({ error: { code: 'NOT_FOUND', message: 'No such hook' } });
      return;
    }
    const path = ([] as string[]).concat((req.params as { path?: string | string[] }).path ?? []).map(encodeURIComponent).join('/');
    const headers: Record<string, string> = { [CONTEXT_HEADER]: await signContextToken(systemContext(`hook-${subgraph}`), subgraph, contextKey) };
    for (const h of HOOK_HEADERS) {
      const v = req.header(h);
      if (v !== undefined) headers[h] = v;
    }
    headers['content-type'] ??= 'application/octet-stream';
    try {
      const upstream = await fetch(base.replace(/\/graphql$/, `/hooks/${path}`), {
        method: 'POST',
        headers,
        body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
        signal: AbortSignal.timeout(10_000),
      });
      res.status(upstream.status).type('application/json').send(Buffer.from(await upstream.arrayBuffer()));
    } catch (err) {
      log.error({ err, subgraph }, 'hook forwarding failed');
      res.status(503).json({ error: { code: 'SERVICE_UNAVAILABLE', message: 'Try again shortly' } });
    }
  });
  return router;
}
