import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';

/**
 * Which browser origins may call the API: the front end's (APP_URL) and those listed in CORS_ORIGINS
 * (`*`: any). The API authenticates with the Authorization header (or connection_init over WebSocket),
 * never with cookies, so credentials are never allowed: no `Access-Control-Allow-Credentials`.
 */
export class CorsPolicy {
  private readonly any: boolean;
  private readonly origins: Set<string>;

  constructor(origins: readonly string[]) {
    this.any = origins.includes('*');
    this.origins = new Set(origins.filter((o) => o !== '*').map((o) => o.replace(/\/$/, '').toLowerCase()));
  }

  allows(origin: string): boolean {
    return this.any || this.origins.has(origin.toLowerCase());
  }

  /**
   * A WebSocket handshake (CORS does not apply to it, browsers send Origin anyway): allowed without an
   * Origin (not a browser), from an allowed origin, or from the gateway's own origin.
   */
  allowsUpgrade(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (!origin) return true;
    if (this.allows(origin)) return true;
    try {
      return new URL(origin).host.toLowerCase() === (req.headers.host ?? '').toLowerCase();
    } catch {
      return false;
    }
  }
}

const ALLOWED_METHODS = 'GET, POST, OPTIONS';
/** Request headers a preflight may ask for: a browser lists them itself, these are only checked for shape. */
const HEADER_LIST = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/;
const PREFLIGHT_MAX_AGE_SECONDS = '600';

/** Answers preflights and marks responses to allowed origins; a refused preflight gets 403 and no CORS headers. */
export function corsMiddleware(policy: CorsPolicy): RequestHandler {
  return (req, res, next) => {
    const origin = req.headers.origin;
    res.vary('Origin');
    const preflight = req.method === 'OPTIONS' && typeof req.headers['access-control-request-method'] === 'string';
    if (!origin) return preflight ? void res.status(204).end() : next();
    if (!policy.allows(origin)) {
      if (!preflight) return next(); // no CORS headers: the browser does not hand the answer to the page
      res.status(403).json({
        errors: [
          {
            message: `Origin ${origin} is not allowed (CORS_ORIGINS)`,
            extensions: { code: 'CORS_ORIGIN_NOT_ALLOWED' },
          },
        ],
      });
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Expose-Headers', 'x-request-id');
    if (!preflight) return next();
    res.vary('Access-Control-Request-Headers');
    const requested = req.headers['access-control-request-headers'];
    res.setHeader('Access-Control-Allow-Methods', ALLOWED_METHODS);
    if (typeof requested === 'string' && HEADER_LIST.test(requested.trim()))
      res.setHeader('Access-Control-Allow-Headers', requested.trim());
    res.setHeader('Access-Control-Max-Age', PREFLIGHT_MAX_AGE_SECONDS);
    res.status(204).end();
  };
}
