import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rawGqlResponse } from './support/gql';
import { signUp, type Account } from './support/fixtures';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allGone, freePorts, runCommand, startServices } from './support/processes';
import { startExtraGateway, startTestPlatform, type TestPlatform } from './support/platform';
import { SUBGRAPHS } from '../kernel/services';
import { exportPem } from '../kernel/keys';
import { REDIS_WAIT_MS } from '../kernel/redis-probe';

/**
 * What a client sees when something the platform depends on is down: "try again later" (HTTP 503,
 * Retry-After, SERVICE_UNAVAILABLE), never a 200 that looks like a bug, and never an internal address.
 */
let t: TestPlatform;
let account: Account;
beforeAll(async () => {
  t = await startTestPlatform();
  account = await signUp(t.gatewayUrl, 'Outages');
});
afterAll(async () => {
  await t?.stop();
});

/** A gateway whose messaging subgraph is at `messagingUrl` (everything else up). */
async function gatewayWithMessagingAt(messagingUrl: string, production: boolean) {
  const subgraphUrls = { ...Object.fromEntries(SUBGRAPHS.map((s) => [s, t.subgraphUrl(s)])), messaging: messagingUrl };
  return startExtraGateway(t, { production, subgraphUrls });
}

/** Sends an operation as the test account; the result with the response headers. */
async function ask<T = Record<string, unknown>>(url: string, body: unknown) {
  const { result, headers } = await rawGqlResponse<T>(url, body, { token: account.token });
  return { ...result, headers };
}

/** Identity's `me` and messaging's nullable `message`: one operation touching a live and a dead subgraph. */
const PARTIAL = { query: `query { me { id } message(id: "${randomUUID()}") { id } }` };

describe('a subgraph that is down', () => {
  it('turns from 200 into 503 with Retry-After when the subgraph process behind the gateway stops', async () => {
    const messaging = await startServices('messaging', {
      DATABASE_URL: t.databaseUrl,
      REDIS_URL: '',
      MESSAGING_PORT: '0',
      MIGRATE_ON_START: 'false',
      NEXUS_ACCESS_TOKEN_PRIVATE_KEY: exportPem(t.keys.access).privatePem,
      NEXUS_CONTEXT_PRIVATE_KEY: exportPem(t.keys.context).privatePem,
    });
    const gateway = await gatewayWithMessagingAt(messaging.urls.messaging, true);
    try {
      const up = await ask(gateway.url, PARTIAL);
      expect(up.status).toBe(200);
      expect(up.errors).toBeUndefined();
      expect(await messaging.stop('SIGTERM')).toBe(0);
      const down = await ask(gateway.url, PARTIAL);
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBeTruthy();
      expect(down.errors!.map((e) => e.extensions?.code)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(JSON.stringify(down)).not.toContain(new URL(messaging.urls.messaging).host);
    } finally {
      await messaging.stop();
      await gateway.stop();
    }
  }, 60_000);

  for (const production of [false, true]) {
    it(`answers 503 SERVICE_UNAVAILABLE with Retry-After, keeps the data it has, and names no address (${production ? 'production' : 'development'})`, async () => {
      const [port] = await freePorts(1);
      const gateway = await gatewayWithMessagingAt(`http://127.0.0.1:${port}/graphql`, production);
      try {
        const res = await ask<{ me: { id: string } | null; message: unknown }>(gateway.url, PARTIAL);
        expect(res.status).toBe(503);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(res.errors!.map((e) => e.extensions?.code)).toEqual(['SERVICE_UNAVAILABLE']);
        expect(res.data).toEqual({ me: { id: account.userId }, message: null });
        const body = JSON.stringify(res);
        expect(body).not.toContain(String(port));
        expect(body).not.toContain('127.0.0.1');
        expect(body).not.toMatch(/ECONNREFUSED|fetch failed/);
      } finally {
        await gateway.stop();
      }
    });
  }

  it('answers the same when a balancer in front of the subgraph says 502, without its address or page', async () => {
    const balancer: Server = createServer((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>502 Bad Gateway</h1> upstream 10.0.0.7:4005 unreachable');
    });
    await new Promise<void>((r) => balancer.listen(0, '127.0.0.1', r));
    const { port } = balancer.address() as AddressInfo;
    const gateway = await gatewayWithMessagingAt(`http://127.0.0.1:${port}/graphql`, false);
    try {
      const res = await ask(gateway.url, PARTIAL);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(res.errors!.map((e) => e.extensions?.code)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(JSON.stringify(res)).not.toMatch(new RegExp(`${port}|10\\.0\\.0\\.7|Bad Gateway`));
    } finally {
      await gateway.stop();
      await new Promise((r) => balancer.close(r));
    }
  });

  it("answers a hook call for it with 503 and Retry-After, without the subgraph's address", async () => {
    const [port] = await freePorts(1);
    const gateway = await gatewayWithMessagingAt(`http://127.0.0.1:${port}/graphql`, false);
    try {
      const res = await fetch(gateway.url.replace(/\/graphql$/, `/hooks/messaging/${account.tenantId}/${randomUUID()}`), { method: 'POST', body: '{"text":"hi"}' });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      const body = await res.text();
      expect(JSON.parse(body)).toMatchObject({ error: { code: 'SERVICE_UNAVAILABLE' } });
      expect(body).not.toContain(String(port));
    } finally {
      await gateway.stop();
    }
  });

  it('answers 503 with Retry-After when identity cannot check the caller, like a down subgraph', async () => {
    const [port] = await freePorts(1);
    const subgraphUrls = { ...Object.fromEntries(SUBGRAPHS.map((s) => [s, t.subgraphUrl(s)])), identity: `http://127.0.0.1:${port}/graphql` };
    const gateway = await startExtraGateway(t, { subgraphUrls });
    try {
      const res = await ask(gateway.url, { query: '{ me { id } }' });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(res.errors!.map((e) => e.extensions?.code)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(JSON.stringify(res)).not.toContain(String(port));
    } finally {
      await gateway.stop();
    }
  });
});

describe('Redis unreachable at start', () => {
  it('npm start logs an error naming Redis (without its password) and exits non-zero within seconds', async () => {
    const [port] = await freePorts(1);
    const dataDir = mkdtempSync(join(tmpdir(), 'nexus-no-redis-'));
    const started = Date.now();
    const command = runCommand('npm', ['start'], {
      REDIS_URL: `redis://nexus:s3cret-pw@127.0.0.1:${port}/2`,
      // The README's npm start: embedded database under its own data dir, default ports taken by nobody.
      DATABASE_URL: '',
      NEXUS_DATA_DIR: dataDir,
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      ...Object.fromEntries(['GATEWAY', ...SUBGRAPHS.map((s) => s.toUpperCase())].map((s) => [`${s}_PORT`, '0'])),
    });
    try {
      const code = await Promise.race([command.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), REDIS_WAIT_MS + 25_000))]);
      expect(code).not.toBe('hung');
      expect(code).not.toBe(0);
      expect(Date.now() - started).toBeLessThan(REDIS_WAIT_MS + 25_000);
      expect(await allGone(command)).toBe(true);
      const lines = command.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string });
      const errors = lines.filter((l) => l.level >= 50);
      expect(errors.map((l) => l.msg)).toEqual([expect.stringContaining(`Redis at redis://127.0.0.1:${port}/2 is unreachable`)]);
      expect(command.output()).not.toContain('s3cret-pw');
      expect(command.output()).not.toContain('listening');
    } finally {
      command.kill();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
