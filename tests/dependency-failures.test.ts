import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LedgerAccountsDocument } from './generated/graphql';
import type { User } from './support/client';
import { InterceptingProxy } from './support/proxies';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allGone, freePorts, runCommand, startServices } from './support/processes';
import { startExtraGateway, startTestPlatform, type TestPlatform } from './support/platform';
import { SUBGRAPHS } from '../kernel/services';
import { exportPem } from '../kernel/keys';
import { REVOCATIONS_CALL } from '../kernel/session-revocations';

/**
 * What a client sees when something the platform depends on is down: "try again later" (HTTP 503,
 * Retry-After, SERVICE_UNAVAILABLE), never a 200 that looks like a bug, and never an internal address.
 */
let t: TestPlatform;
let account: User;
beforeAll(async () => {
  t = await startTestPlatform();
  account = await t.signUp('Outages');
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
  const { result, headers } = await account.via(url).response<T>(body);
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
      res
        .writeHead(502, { 'content-type': 'text/html' })
        .end('<h1>502 Bad Gateway</h1> upstream 10.0.0.7:4005 unreachable');
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
      // A hook behind that balancer: the same 503, not the balancer's page.
      const hook = await fetch(
        gateway.url.replace(/\/graphql$/, `/hooks/messaging/${account.tenantId}/${randomUUID()}`),
        { method: 'POST', body: '{"text":"hi"}' },
      );
      expect(hook.status).toBe(503);
      expect(hook.headers.get('retry-after')).toBeTruthy();
      const body = await hook.text();
      expect(JSON.parse(body)).toMatchObject({ error: { code: 'SERVICE_UNAVAILABLE' } });
      expect(body).not.toMatch(/10\.0\.0\.7|Bad Gateway/);
    } finally {
      await gateway.stop();
      await new Promise((r) => balancer.close(r));
    }
  });

  it('answers 503 with Retry-After when the subgraph accepts the connection but does not answer within SUBGRAPH_TIMEOUT_MS', async () => {
    const silent: Server = createServer(() => undefined); // never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as AddressInfo;
    const subgraphUrls = {
      ...Object.fromEntries(SUBGRAPHS.map((s) => [s, t.subgraphUrl(s)])),
      messaging: `http://127.0.0.1:${port}/graphql`,
    };
    const gateway = await startExtraGateway(t, { subgraphUrls, subgraphTimeoutMs: 500 });
    try {
      const asked = Date.now();
      const res = await ask(gateway.url, PARTIAL);
      expect(Date.now() - asked).toBeLessThan(5_000);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(res.errors!.map((e) => e.extensions?.code)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(res.data).toEqual({ me: { id: account.userId }, message: null });
    } finally {
      await gateway.stop();
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
  });

  it("answers a hook call for it with 503 and Retry-After, without the subgraph's address", async () => {
    const [port] = await freePorts(1);
    const gateway = await gatewayWithMessagingAt(`http://127.0.0.1:${port}/graphql`, false);
    try {
      const res = await fetch(
        gateway.url.replace(/\/graphql$/, `/hooks/messaging/${account.tenantId}/${randomUUID()}`),
        { method: 'POST', body: '{"text":"hi"}' },
      );
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
    const subgraphUrls = {
      ...Object.fromEntries(SUBGRAPHS.map((s) => [s, t.subgraphUrl(s)])),
      identity: `http://127.0.0.1:${port}/graphql`,
    };
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

describe('a mutation meeting a subgraph that is down', () => {
  it('is answered 200 without Retry-After, SERVICE_UNAVAILABLE on what failed, once a root field before it took effect', async () => {
    const [port] = await freePorts(1);
    const gateway = await gatewayWithMessagingAt(`http://127.0.0.1:${port}/graphql`, true);
    const ledgerAccount = `stored-once-${randomUUID().slice(0, 8)}`;
    try {
      const res = await ask(gateway.url, {
        query: `mutation { a: createLedgerAccount(input: { code: "${ledgerAccount}", currency: "EUR" }) { id } b: sendMessage(input: { roomId: "${randomUUID()}", body: "hi" }) { id } }`,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('retry-after')).toBeNull();
      expect(res.errors!.map((e) => e.extensions?.code)).toEqual(['SERVICE_UNAVAILABLE']);
      // What took effect is there: the answer must not invite repeating the whole operation.
      const accounts = await account.gql(LedgerAccountsDocument, { filter: { code: ledgerAccount } });
      expect(accounts.data!.ledgerAccounts).toHaveLength(1);
    } finally {
      await gateway.stop();
    }
  });

  it('is answered the same when the field that took effect comes after the one that failed', async () => {
    const [port] = await freePorts(1);
    const gateway = await gatewayWithMessagingAt(`http://127.0.0.1:${port}/graphql`, true);
    const ledgerAccount = `stored-after-${randomUUID().slice(0, 8)}`;
    try {
      const res = await ask(gateway.url, {
        query: `mutation { b: sendMessage(input: { roomId: "${randomUUID()}", body: "hi" }) { id } a: createLedgerAccount(input: { code: "${ledgerAccount}", currency: "EUR" }) { id } }`,
      });
      const accounts = await account.gql(LedgerAccountsDocument, { filter: { code: ledgerAccount } });
      expect(accounts.data!.ledgerAccounts).toHaveLength(1);
      expect(res.status).toBe(200);
      expect(res.headers.get('retry-after')).toBeNull();
      expect(res.errors!.map((e) => e.extensions?.code)).toEqual(['SERVICE_UNAVAILABLE']);
    } finally {
      await gateway.stop();
    }
  });

  it('is answered 503 with Retry-After when the only other field was skipped', async () => {
    const [port] = await freePorts(1);
    const gateway = await gatewayWithMessagingAt(`http://127.0.0.1:${port}/graphql`, true);
    const ledgerAccount = `skipped-${randomUUID().slice(0, 8)}`;
    try {
      const res = await ask(gateway.url, {
        query: `mutation($skip: Boolean!) { t: __typename a: createLedgerAccount(input: { code: "${ledgerAccount}", currency: "EUR" }) @skip(if: $skip) { id } b: sendMessage(input: { roomId: "${randomUUID()}", body: "hi" }) { id } }`,
        variables: { skip: true },
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      const accounts = await account.gql(LedgerAccountsDocument, { filter: { code: ledgerAccount } });
      expect(accounts.data!.ledgerAccounts).toHaveLength(0);
    } finally {
      await gateway.stop();
    }
  });

  it('is answered 503 with Retry-After when nothing took effect', async () => {
    const [port] = await freePorts(1);
    const gateway = await gatewayWithMessagingAt(`http://127.0.0.1:${port}/graphql`, true);
    try {
      const res = await ask(gateway.url, {
        query: `mutation { a: sendMessage(input: { roomId: "${randomUUID()}", body: "hi" }) { id } b: sendMessage(input: { roomId: "${randomUUID()}", body: "hi" }) { id } }`,
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(new Set(res.errors!.map((e) => e.extensions?.code))).toEqual(new Set(['SERVICE_UNAVAILABLE']));
    } finally {
      await gateway.stop();
    }
  });
});

describe("identity's list of revocations, answered badly", () => {
  let hop: InterceptingProxy;
  let identityUrl: string;
  beforeAll(async () => {
    hop = new InterceptingProxy(new URL(t.subgraphUrl('identity')));
    identityUrl = await hop.listen();
  });
  afterAll(async () => {
    await hop?.close();
  });
  const viaHop = (overrides = {}) =>
    startExtraGateway(t, {
      subgraphUrls: { ...Object.fromEntries(SUBGRAPHS.map((s) => [s, t.subgraphUrl(s)])), identity: identityUrl },
      ...overrides,
    });
  const listAnswers = (answer: (path: string) => { status: number; body: string } | undefined) => {
    hop.answer = (_method, path) => (path.endsWith(`/internal/${REVOCATIONS_CALL}`) ? answer(path) : undefined);
  };

  it('is an internal error when identity refuses the call (404, 500), and unavailability only for 502/503/504', async () => {
    for (const [status, expected] of [
      [404, { status: 500, code: 'INTERNAL_SERVER_ERROR' }],
      [500, { status: 500, code: 'INTERNAL_SERVER_ERROR' }],
      [502, { status: 503, code: 'SERVICE_UNAVAILABLE' }],
      [503, { status: 503, code: 'SERVICE_UNAVAILABLE' }],
    ] as const) {
      listAnswers(() => ({
        status,
        body: status === 404 ? '{"errors":[{"message":"No such internal call"}]}' : 'oops',
      }));
      // Never able to read the list: sessions are refused from the start, and /ready says so.
      const gateway = await viaHop({ production: true });
      try {
        const res = await ask(gateway.url, { query: '{ rooms { id } }' });
        expect([status, res.status, res.errors?.map((e) => e.extensions?.code)]).toEqual([
          status,
          expected.status,
          [expected.code],
        ]);
        expect(res.headers.has('retry-after')).toBe(expected.status === 503);
        const ready = await fetch(gateway.url.replace(/\/graphql$/, '/ready'));
        expect([status, ready.status, ((await ready.json()) as { revocations: unknown }).revocations]).toEqual([
          status,
          503,
          { current: false, ageMs: null },
        ]);
      } finally {
        await gateway.stop();
      }
    }
  });

  it('leaves out a row it cannot read and keeps the others', async () => {
    const revoked = await t.signUp('Revoked');
    const kept = await t.signUp('Kept');
    const revokedSession = JSON.parse(Buffer.from(revoked.token.split('.')[1], 'base64url').toString()).sid as string;
    const at = new Date().toISOString();
    listAnswers(() => ({
      status: 200,
      body: JSON.stringify({
        result: {
          now: at,
          revoked: [
            { kind: 'session', id: 'not-a-session', revokedAt: 'yesterday' },
            { kind: 'session', id: revokedSession, revokedAt: at },
            { kind: 'something new' },
          ],
          next: null,
        },
      }),
    }));
    const gateway = await viaHop();
    try {
      expect((await ask(gateway.url, { query: '{ rooms { id } }' })).status).toBe(200);
      expect((await revoked.via(gateway.url).response({ query: '{ rooms { id } }' })).result.status).toBe(401);
      expect((await kept.via(gateway.url).response({ query: '{ rooms { id } }' })).result.status).toBe(200);
      const ready = await fetch(gateway.url.replace(/\/graphql$/, '/ready'));
      expect(((await ready.json()) as { revocations: { current: boolean } }).revocations.current).toBe(true);
    } finally {
      await gateway.stop();
      listAnswers(() => undefined);
    }
  });
});

/**
 * The README's `npm start` with this REDIS_URL (embedded database under its own data dir, default ports
 * taken by nobody), left to run until it exits or `hungAfterMs` passes: its exit code ('hung' if it did
 * not), its error-level log lines, and all it printed.
 */
async function npmStartWithRedis(redisUrl: string, env: Record<string, string>, hungAfterMs: number) {
  const dataDir = mkdtempSync(join(tmpdir(), 'nexus-redis-start-'));
  const command = runCommand('npm', ['start'], {
    REDIS_URL: redisUrl,
    DATABASE_URL: '',
    NEXUS_DATA_DIR: dataDir,
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    ...Object.fromEntries(['GATEWAY', ...SUBGRAPHS.map((s) => s.toUpperCase())].map((s) => [`${s}_PORT`, '0'])),
    ...env,
  });
  try {
    const code = await Promise.race([
      command.exited,
      new Promise<'hung'>((r) => setTimeout(() => r('hung'), hungAfterMs)),
    ]);
    const gone = await allGone(command);
    const lines = command
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string });
    return { code, gone, errors: lines.filter((l) => l.level >= 50).map((l) => l.msg), output: command.output() };
  } finally {
    command.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe('Redis unreachable at start', () => {
  /** REDIS_WAIT_MS for this run (default 5 s). */
  const WAIT_MS = 2_000;

  it('npm start logs an error naming Redis (without its password) and why, and exits non-zero after REDIS_WAIT_MS', async () => {
    const [port] = await freePorts(1);
    const started = Date.now();
    const run = await npmStartWithRedis(
      `redis://nexus:s3cret-pw@127.0.0.1:${port}/2`,
      { REDIS_WAIT_MS: String(WAIT_MS) },
      WAIT_MS + 25_000,
    );
    expect(run.code).not.toBe('hung');
    expect(run.code).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(WAIT_MS + 25_000);
    expect(run.gone).toBe(true);
    expect(run.errors).toEqual([
      expect.stringContaining(`Redis at redis://127.0.0.1:${port}/2 is unreachable (connect ECONNREFUSED`),
    ]);
    expect(run.errors[0]).toContain(`gave up after ${WAIT_MS / 1000} s`);
    expect(run.output).not.toContain('s3cret-pw');
    expect(run.output).not.toContain('listening');
  }, 60_000);
});

const withRedis = process.env.REDIS_URL ? describe : describe.skip;

withRedis('a Redis database that does not exist', () => {
  it('npm start exits non-zero at once, naming the database, instead of using database 0', async () => {
    const redis = new URL(process.env.REDIS_URL!);
    redis.pathname = '/99';
    const run = await npmStartWithRedis(redis.toString(), {}, 30_000);
    expect(run.code).not.toBe('hung');
    expect(run.code).not.toBe(0);
    expect(run.gone).toBe(true);
    expect(run.errors).toEqual([expect.stringContaining('refused database 99')]);
    expect(run.output).not.toContain('listening');
  }, 60_000);
});
