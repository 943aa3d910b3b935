import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '../kernel/config';
import { setLogLevel } from '../kernel/log';
import { CONTEXT_HEADER, signContextToken } from '../kernel/context-token';
import type { RequestContext } from '../kernel/context';
import { startEmbeddedDatabase } from '../kernel/db/embedded';
import { exportPem, generateKeyPair } from '../kernel/keys';
import { startServices } from '../tests/support/processes';
import { startPlatform } from '../app/platform';
import { SUBGRAPHS } from '../kernel/services';
import { subscriptionBench } from './subscriptions';
import { loginBench } from './login';
import { fanoutBench, formatFanout } from './fanout';
import { amplificationBench, formatAmplification } from './amplification';
import { formatLedger, ledgerBench } from './ledger';

/**
 * Gateway overhead: the same operations sent through the gateway (auth, limits, planning, signed
 * context, federation) and, as the baseline measured in the same run, straight to the owning subgraph.
 * Prints p50/p99 latency and throughput, and the gateway/baseline ratios. Then the same for
 * subscriptions (bench/subscriptions.ts), sign-in (bench/login.ts), subscription fan-out (bench/fanout.ts) and
 * one member's many subscriptions against another tenant's queries (bench/amplification.ts); and the ledger's
 * transfers, proofs and verification (bench/ledger.ts).
 */
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 400);
/** Comma list of parts to run: overhead, subscriptions, login, fanout, amplification, ledger (default: all). */
const ONLY = new Set(
  (process.env.BENCH_ONLY ?? 'overhead,subscriptions,login,fanout,amplification,ledger')
    .split(',')
    .map((s) => s.trim()),
);
/** The subscription and fan-out parts connect hundreds or thousands of clients as one user from one address on purpose. */
const UNLIMITED_SUBSCRIPTIONS = Object.fromEntries(
  [
    'SOCKETS_PER_USER',
    'SOCKETS_PER_ADDRESS',
    'SUBSCRIPTIONS_PER_SOCKET',
    'SUBSCRIPTIONS_PER_USER',
    'SUBSCRIPTIONS_PER_TENANT',
    'SUBSCRIPTIONS_PER_ADDRESS',
  ].map((k) => [`WS_MAX_${k}`, '1000000']),
);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);

async function measure(name: string, send: () => Promise<void>) {
  for (let i = 0; i < 30; i++) await send(); // warm-up
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < REQUESTS) {
        const t0 = performance.now();
        await send();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  return { name, p50: pct(50), p99: pct(99), rps: latencies.length / seconds };
}

async function post(url: string, body: unknown, headers: Record<string, string>): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { errors?: unknown };
  if (!res.ok || json.errors) throw new Error(`request failed: ${res.status} ${JSON.stringify(json)}`);
}

async function main(): Promise<void> {
  const ports = Object.fromEntries(
    ['GATEWAY', ...SUBGRAPHS.map((s) => s.toUpperCase())].map((s) => [`${s}_PORT`, '0']),
  );
  const config = loadConfig({
    ...process.env,
    ...ports,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    SEED_DEMO: 'false',
    NEXUS_DATA_DIR: mkdtempSync(join(tmpdir(), 'nexus-bench-')),
    // The login bench signs in thousands of times from one address on purpose.
    LOGIN_ATTEMPTS_PER_IP: '10000000',
    LOGIN_ATTEMPTS_PER_ACCOUNT_IP: '10000000',
    ...UNLIMITED_SUBSCRIPTIONS,
  });
  setLogLevel(config.log.LOG_LEVEL);
  const keys = { access: generateKeyPair(), context: generateKeyPair() };
  let database;
  let dropDatabase = async () => {};
  if (process.env.DATABASE_URL) {
    const name = `nexus_bench_${randomUUID().slice(0, 8)}`;
    const admin = new Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = `/${name}`;
    database = { url: url.toString(), embedded: false, poolSize: 10, stop: async () => {} };
    dropDatabase = async () => {
      const c = new Client({ connectionString: process.env.DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
  } else {
    const embedded = await startEmbeddedDatabase({});
    database = { url: embedded.url, embedded: true, poolSize: 4, stop: embedded.stop };
  }
  if (ONLY.has('ledger')) {
    // The ledger's services on a DataSource of their own (bench/ledger.ts), on the same database, before the
    // platform starts (nothing else writes meanwhile).
    // BENCH_LEDGER_TRANSFERS (10000 per layout), BENCH_LEDGER_BATCH (100 per createTransfers call),
    // BENCH_LEDGER_CALLERS (4), BENCH_LEDGER_ENTRIES (1000000), BENCH_LEDGER_APPEND_BATCH (5000), BENCH_LEDGER_PROOFS (2000).
    const input = {
      databaseUrl: database.url,
      poolSize: database.poolSize,
      config,
      keys: { ...keys, ledger: generateKeyPair() },
      transfers: Number(process.env.BENCH_LEDGER_TRANSFERS ?? 10_000),
      batch: Number(process.env.BENCH_LEDGER_BATCH ?? 100),
      callers: Number(process.env.BENCH_LEDGER_CALLERS ?? 4),
      entries: Number(process.env.BENCH_LEDGER_ENTRIES ?? 1_000_000),
      appendBatch: Number(process.env.BENCH_LEDGER_APPEND_BATCH ?? 5_000),
      proofs: Number(process.env.BENCH_LEDGER_PROOFS ?? 2_000),
    };
    const result = await ledgerBench(input).catch(async (err: unknown) => {
      await database.stop();
      await dropDatabase();
      throw err;
    });
    process.stdout.write(formatLedger(result, input, database.embedded ? 'embedded database' : 'PostgreSQL'));
    if ([...ONLY].every((part) => part === 'ledger')) {
      await database.stop();
      await dropDatabase();
      return;
    }
  }
  const platform = await startPlatform({ config, services: [...SUBGRAPHS, 'gateway'], database, keys });
  try {
    const gateway = platform.gatewayUrl!;
    const benchEmail = `bench-${randomUUID().slice(0, 8)}@example.test`;
    const reg = await fetch(gateway, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } tenant { id } } }',
        variables: { i: { email: benchEmail, password: 'bench password', tenantName: 'Bench' } },
      }),
    }).then(
      (r) =>
        r.json() as Promise<{
          data: { register: { accessToken: string; user: { id: string }; tenant: { id: string } } };
        }>,
    );
    const { accessToken, user, tenant } = reg.data.register;
    const auth = { authorization: `Bearer ${accessToken}` };
    const room = await fetch(gateway, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ query: 'mutation { createRoom(input: { name: "bench" }) { id } }' }),
    }).then((r) => r.json() as Promise<{ data: { createRoom: { id: string } } }>);
    const roomId = room.data.createRoom.id;
    for (let i = 0; i < 20; i++) {
      await post(
        gateway,
        {
          query: 'mutation($r: ID!, $b: String!) { sendMessage(input: { roomId: $r, body: $b }) { id } }',
          variables: { r: roomId, b: `message ${i}` },
        },
        auth,
      );
    }
    const ctx: RequestContext = {
      requestId: 'bench',
      tenantId: tenant.id,
      userId: user.id,
      sessionId: randomUUID(),
      roles: ['owner'],
      permissions: ['*'],
      authMethod: 'password',
    };
    const signed = async (aud: string) => ({
      [CONTEXT_HEADER]: await signContextToken(ctx, aud, keys.context.privateKey!),
    });
    const url = (name: string) => platform.services.find((s) => s.name === name)!.url;
    const historyQuery = {
      query: 'query($r: ID!) { messages(roomId: $r, first: 20) { edges { node { id body } } } }',
      variables: { r: roomId },
    };
    const federatedQuery = {
      query: 'query($r: ID!) { messages(roomId: $r, first: 20) { edges { node { id body author { id email } } } } }',
      variables: { r: roomId },
    };

    if (ONLY.has('overhead')) {
      const results = [
        await measure('baseline: messaging subgraph direct', async () =>
          post(url('messaging'), historyQuery, await signed('messaging')),
        ),
        await measure('gateway: same query', () => post(gateway, historyQuery, auth)),
        await measure('gateway: + author from identity (2 subgraphs)', () => post(gateway, federatedQuery, auth)),
      ];
      const base = results[0];
      process.stdout.write(
        `\nGateway overhead (${REQUESTS} requests, concurrency ${CONCURRENCY}, ${database.embedded ? 'embedded database' : 'PostgreSQL'})\n`,
      );
      for (const r of results) {
        process.stdout.write(
          `  ${r.name.padEnd(48)} p50 ${r.p50.toFixed(2).padStart(7)} ms  p99 ${r.p99.toFixed(2).padStart(7)} ms  ${r.rps.toFixed(0).padStart(6)} req/s` +
            `  (p50 ×${(r.p50 / base.p50).toFixed(2)}, throughput ×${(r.rps / base.rps).toFixed(2)} of baseline)\n`,
        );
      }
      process.stdout.write(
        `  rss ${(process.memoryUsage().rss / 1048576).toFixed(0)} MB (whole platform in this process)\n`,
      );
    }

    if (ONLY.has('subscriptions')) {
      const subscribers = Number(process.env.BENCH_SUBSCRIBERS ?? 100);
      const messages = Number(process.env.BENCH_MESSAGES ?? 50);
      const live = await subscriptionBench({
        gatewayUrl: gateway,
        messagingUrl: url('messaging'),
        accessToken,
        roomId,
        ctx,
        contextKey: keys.context.privateKey!,
        subscribers,
        messages,
      });
      process.stdout.write(
        `\nSubscriptions: send→receive latency, ${subscribers} subscribers in one room, ${messages} messages\n`,
      );
      for (const r of live) {
        process.stdout.write(
          `  ${r.name.padEnd(48)} p50 ${r.p50.toFixed(2).padStart(7)} ms  p99 ${r.p99.toFixed(2).padStart(7)} ms  delivered ${r.delivered}/${r.expected}` +
            `  (p50 ×${(r.p50 / live[0].p50).toFixed(2)}, p99 ×${(r.p99 / live[0].p99).toFixed(2)} of baseline)\n`,
        );
      }
    }

    if (ONLY.has('login')) {
      // As deployed: gateway and identity each in their own process, on the same database and keys.
      const env = {
        DATABASE_URL: database.url,
        MIGRATE_ON_START: 'false',
        LOG_LEVEL: 'silent',
        NEXUS_ACCESS_TOKEN_PRIVATE_KEY: exportPem(keys.access).privatePem!,
        NEXUS_CONTEXT_PRIVATE_KEY: exportPem(keys.context).privatePem!,
        GATEWAY_PORT: '0',
        IDENTITY_PORT: '0',
        LOGIN_ATTEMPTS_PER_IP: config.auth.LOGIN_ATTEMPTS_PER_IP.toString(),
        LOGIN_ATTEMPTS_PER_ACCOUNT_IP: config.auth.LOGIN_ATTEMPTS_PER_ACCOUNT_IP.toString(),
      };
      const identity = await startServices('identity', env);
      const gatewayProcess = await startServices('gateway', { ...env, IDENTITY_URL: identity.urls.identity });
      try {
        const seconds = Number(process.env.BENCH_LOGIN_SECONDS ?? 8);
        const login = await loginBench({
          gatewayUrl: gatewayProcess.urls.gateway,
          email: benchEmail,
          password: 'bench password',
          accessToken,
          seconds,
          concurrency: 32,
        });
        process.stdout.write(
          `\nSign-in: 32 concurrent clients for ${seconds} s (argon2id 19 MiB, t=2, p=1; gateway and identity in their own processes)\n`,
        );
        process.stdout.write(
          `  baseline: bare argon2 verifies                  ${login.verifies.toFixed(1).padStart(7)} /s\n`,
        );
        process.stdout.write(
          `  logins through the gateway                      ${login.logins.toFixed(1).padStart(7)} /s  (×${login.ratio.toFixed(2)} of baseline; target ≥ 0.9)\n`,
        );
        process.stdout.write(
          `  cheap query (me) with no sign-ins               p50 ${login.idleP50.toFixed(2)} ms  p99 ${login.idleP99.toFixed(2)} ms\n`,
        );
        process.stdout.write(
          `  cheap query alongside (me)                      p50 ${login.cheapP50.toFixed(2)} ms  p99 ${login.cheapP99.toFixed(2)} ms  (${login.cheapSamples} samples; target p99 ≤ 20 ms)\n`,
        );
      } finally {
        await gatewayProcess.stop();
        await identity.stop();
      }
    }

    if (ONLY.has('fanout')) {
      // BENCH_FANOUT: subscriber counts (1000,5000). BENCH_FANOUT_MESSAGES: latency phase (60).
      // BENCH_FANOUT_THROUGHPUT_MESSAGES: throughput phase (max(60, 200000/N)). BENCH_FANOUT_INTERVAL_MS:
      // latency pace (max(50, N/10)). BENCH_FANOUT_SENDERS (4). BENCH_FANOUT_BATCH: connections opened at
      // a time (200). BENCH_FANOUT_AUTHOR=true: also select the author. BENCH_FANOUT_CLIENT=graphql-ws: the
      // library's client for the gateway's subscribers instead of the baseline's frame reader.
      const interval = process.env.BENCH_FANOUT_INTERVAL_MS;
      const throughput = process.env.BENCH_FANOUT_THROUGHPUT_MESSAGES;
      const input = {
        env: {
          DATABASE_URL: database.url,
          NEXUS_ACCESS_TOKEN_PRIVATE_KEY: exportPem(keys.access).privatePem!,
          NEXUS_CONTEXT_PRIVATE_KEY: exportPem(keys.context).privatePem!,
          ...UNLIMITED_SUBSCRIPTIONS,
        },
        otherSubgraphUrls: Object.fromEntries(SUBGRAPHS.map((s) => [`${s.toUpperCase()}_URL`, url(s)])),
        accessToken,
        roomId,
        sizes: (process.env.BENCH_FANOUT ?? '1000,5000')
          .split(',')
          .map((s) => Number(s.trim()))
          .filter((n) => n > 0),
        messages: Number(process.env.BENCH_FANOUT_MESSAGES ?? 60),
        throughputMessages: throughput ? Number(throughput) : undefined,
        intervalMs: interval ? Number(interval) : undefined,
        senders: Number(process.env.BENCH_FANOUT_SENDERS ?? 4),
        batch: Number(process.env.BENCH_FANOUT_BATCH ?? 200),
        withAuthor: process.env.BENCH_FANOUT_AUTHOR === 'true',
        client: process.env.BENCH_FANOUT_CLIENT === 'graphql-ws' ? ('graphql-ws' as const) : ('protocol' as const),
      };
      process.stdout.write(formatFanout(await fanoutBench(input), input));
    }

    if (ONLY.has('amplification')) {
      // As deployed: the gateway in its own process, in front of this process's subgraphs.
      const register = async (tenantName: string) => {
        const res = await fetch(gateway, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            query: 'mutation($i: RegisterInput!) { register(input: $i) { accessToken } }',
            variables: {
              i: { email: `bench-${randomUUID().slice(0, 8)}@example.test`, password: 'bench password', tenantName },
            },
          }),
        }).then((r) => r.json() as Promise<{ data: { register: { accessToken: string } } }>);
        return res.data.register.accessToken;
      };
      const attacker = await register('Tenant A');
      const victim = await register('Tenant B');
      const attackedRoom = await fetch(gateway, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${attacker}` },
        body: JSON.stringify({ query: 'mutation { createRoom(input: { name: "busy" }) { id } }' }),
      }).then((r) => r.json() as Promise<{ data: { createRoom: { id: string } } }>);
      const subgraphUrls = Object.fromEntries(SUBGRAPHS.map((s) => [`${s.toUpperCase()}_URL`, url(s)]));
      // WS_MAX_* from this environment (the defaults when unset), not the raised ones of the parts above.
      const gatewayProcess = await startServices('gateway', {
        ...subgraphUrls,
        GATEWAY_PORT: '0',
        LOG_LEVEL: 'silent',
        NEXUS_ACCESS_TOKEN_PRIVATE_KEY: exportPem(keys.access).privatePem!,
        NEXUS_CONTEXT_PRIVATE_KEY: exportPem(keys.context).privatePem!,
      });
      try {
        const input = {
          gatewayUrl: gatewayProcess.urls.gateway,
          attackerToken: attacker,
          victimToken: victim,
          roomId: attackedRoom.data.createRoom.id,
          subscriptions: Number(process.env.BENCH_AMPLIFICATION_SUBSCRIPTIONS ?? 1000),
          perConnection: 50,
          samples: Number(process.env.BENCH_AMPLIFICATION_SAMPLES ?? 300),
          messageIntervalMs: Number(process.env.BENCH_AMPLIFICATION_INTERVAL_MS ?? 100),
        };
        process.stdout.write(formatAmplification(await amplificationBench(input), input));
      } finally {
        await gatewayProcess.stop();
      }
    }
  } finally {
    await platform.stop();
    await dropDatabase();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
