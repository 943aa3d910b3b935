import type { RequestHandler } from 'express';
import type { RevocationFeed } from '../revocations';

/** GET /health: the process answers. */
export const healthHandler: RequestHandler = (_req, res) => {
  res.json({ status: 'ok', service: 'gateway' });
};

/** GET /ready: every subgraph ready and the list of revocations current (sessions are refused otherwise). */
export function readinessHandler(subgraphUrls: Map<string, string>, revocations: RevocationFeed): RequestHandler {
  return async (_req, res) => {
    const checks = await Promise.all(
      [...subgraphUrls.entries()].map(async ([name, url]) => {
        const ok = await fetch(url.replace(/\/graphql$/, '/ready'), { signal: AbortSignal.timeout(2000) })
          .then((r) => r.ok)
          .catch(() => false);
        return [name, ok] as const;
      }),
    );
    // Sessions are refused while the list of revocations cannot be relied on.
    const age = revocations.age();
    const list = { current: revocations.current(), ageMs: age === null ? null : Math.round(age) };
    const ready = checks.every(([, ok]) => ok) && list.current;
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'unavailable', subgraphs: Object.fromEntries(checks), revocations: list });
  };
}
