import WebSocket from 'ws';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { wsUrl } from './support/ws';

/** Browsers on other origins: the front end's (APP_URL) and CORS_ORIGINS may call the API, nobody else. */
let t: TestPlatform;
const APP = 'http://localhost:3000';
const LISTED = 'https://console.example.com';
const STRANGER = 'https://evil.example.net';

beforeAll(async () => {
  t = await startTestPlatform(undefined, { APP_URL: `${APP}/`, CORS_ORIGINS: `${LISTED}, https://other.example.org/` });
});
afterAll(() => t?.stop());

const preflight = (origin: string) =>
  fetch(t.gatewayUrl, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,authorization',
    },
  });

const post = (origin: string) =>
  fetch(t.gatewayUrl, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ __typename }' }),
  });

describe('CORS', () => {
  it.each([APP, LISTED])(
    'answers a preflight from an allowed origin (%s) without allowing credentials',
    async (origin) => {
      const res = await preflight(origin);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(res.headers.get('access-control-allow-methods')).toContain('POST');
      expect(res.headers.get('access-control-allow-headers')).toBe('content-type,authorization');
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      expect(res.headers.get('vary')).toMatch(/origin/i);
    },
  );

  it('refuses a preflight from an origin that is not listed, an opaque (null) origin, or a look-alike', async () => {
    for (const origin of [
      'null',
      'http://localhost:3001',
      'https://console.example.com.evil.net',
      'http://console.example.com',
    ]) {
      const res = await preflight(origin);
      expect([origin, res.status, res.headers.get('access-control-allow-origin')]).toEqual([origin, 403, null]);
    }
    expect((await preflight('HTTPS://Console.Example.com')).status).toBe(204); // origins compare case-insensitively
    const res = await preflight(STRANGER);
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0].extensions.code).toBe('CORS_ORIGIN_NOT_ALLOWED');
  });

  it('lets an allowed origin read the answer (and the request id), and gives a stranger no CORS headers', async () => {
    const ok = await post(LISTED);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(LISTED);
    expect(ok.headers.get('access-control-expose-headers')).toBe('x-request-id');
    expect(await ok.json()).toEqual({ data: { __typename: 'Query' } });
    const stranger = await post(STRANGER);
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
  });

  const handshake = (origin?: string) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl(t.gatewayUrl), 'graphql-transport-ws', origin ? { origin } : {});
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    });

  it('opens WebSockets for allowed origins, the gateway itself and non-browser clients, and refuses other origins', async () => {
    expect(await handshake(APP)).toBe(101);
    expect(await handshake(LISTED)).toBe(101);
    expect(await handshake(new URL(t.gatewayUrl).origin)).toBe(101);
    expect(await handshake()).toBe(101);
    expect(await handshake(STRANGER)).toBe(403);
  });
});

describe('CORS_ORIGINS=*', () => {
  let open: TestPlatform;
  beforeAll(async () => {
    open = await startTestPlatform(['gateway'], { CORS_ORIGINS: '*' });
  });
  afterAll(() => open?.stop());

  it('allows any origin, still without credentials', async () => {
    const res = await fetch(open.gatewayUrl, {
      method: 'OPTIONS',
      headers: { origin: STRANGER, 'access-control-request-method': 'POST' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(STRANGER);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });
});
