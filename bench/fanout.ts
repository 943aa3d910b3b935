import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

/**
 * Subscription fan-out: N subscribers in one room, M messages sent through the gateway; p50/p99
 * send→receive latency at a steady pace, messages/s and deliveries/s when sent as fast as a few
 * senders go, and memory per connection of the process holding the sockets. The baseline, measured in
 * the same run with the same N, M, pacing and frame-reading client code, is a plain `ws` server that
 * broadcasts one pre-serialised frame per message (bench/fanout-raw-server.ts). The gateway and the
 * baseline each run in their own child process, started afresh for every N, so their RSS and CPU time
 * are theirs alone; the subgraphs the gateway needs here (identity, tenancy, messaging) run in a third,
 * so that neither shares an event loop with the clients, which all run in this process.
 */
export interface FanoutInput {
  /** Environment of the services started here: DATABASE_URL (already migrated), the private keys. */
  env: NodeJS.ProcessEnv;
  /** The gateway's `<SUBGRAPH>_URL` for the subgraphs not started here (not used by this benchmark). */
  otherSubgraphUrls: Record<string, string>;
  accessToken: string;
  roomId: string;
  /** Subscriber counts, one measurement each. */
  sizes: number[];
  /** Messages of the latency phase (steady pace). */
  messages: number;
  /** Messages of the throughput phase (as fast as sent); by default enough for 200,000 deliveries, at least `messages`. */
  throughputMessages?: number;
  /**
   * Pace of the latency phase; by default max(50 ms, N/10 ms), i.e. at most 10,000 deliveries/s offered,
   * well under what either side sustains here, so that the figures are latency rather than queueing.
   */
  intervalMs?: number;
  senders: number;
  /** Connections opened at a time. */
  batch: number;
  /** Also select `author { id email }` (resolved from identity per event). */
  withAuthor: boolean;
  /**
   * The gateway's clients: `protocol` speaks graphql-transport-ws on a plain `ws` socket and reads frames
   * with the very code the baseline's clients use; `graphql-ws` is the library's createClient.
   */
  client: 'protocol' | 'graphql-ws';
}

export interface SideResult {
  name: string;
  subscribers: number;
  failedConnections: number;
  /** Subscribers that received a warm-up message before measuring (all of them, normally). */
  subscribed: number;
  connectSeconds: number;
  subscriptionErrors: number;
  sendErrors: number;
  latency: { p50: number; p99: number; max: number; delivered: number; expected: number };
  /** Latency phase, medians per message: the send's response, the first and the last of its N deliveries. */
  perMessage: { returned: number; first: number; last: number };
  throughput: {
    messagesPerSecond: number;
    deliveriesPerSecond: number;
    delivered: number;
    expected: number;
    sendSeconds: number;
    p99: number;
  };
  memory: {
    rssBeforeMb: number;
    rssKbPerConnection: number;
    heapKbPerConnection: number;
    rssAfterTrafficKbPerConnection: number;
    gc: boolean;
  };
  /**
   * CPU time in the throughput phase: per delivery of the serving process and of this (client) process,
   * and per message of the subgraphs' process (the gateway only: sends, admission, event queries, and
   * their background polling over the phase).
   */
  cpu: { serverUsPerDelivery: number; clientUsPerDelivery: number; subgraphsMsPerMessage?: number };
}

export interface FanoutResult {
  subscribers: number;
  intervalMs: number;
  gateway: SideResult;
  raw: SideResult;
}

const root = resolve(__dirname, '..');
const PROBE = resolve(__dirname, 'fanout-probe.cjs');
const MEMORY_MARKER = 'fanout-memory ';
const WARM = 'warm-up';
const SEND = 'mutation($r: ID!, $b: String!) { sendMessage(input: { roomId: $r, body: $b }) { id } }';
/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
/** Message bodies are padded to the length of a typical chat line. */
const bodyOf = (label: string) => label.padEnd(80, '.');

/** A message sent in a phase: when, when its send returned, and its first and last delivery. */
interface Sent {
  at: number;
  returned: number;
  first: number;
  last: number;
  count: number;
}

/** Where deliveries are counted; the same receive path for the gateway's clients and the baseline's. */
class Recorder {
  private sent = new Map<string, Sent>();
  latencies: number[] = [];
  delivered = 0;
  lastAt = 0;
  errors = 0;
  private readonly warmed: Uint8Array;
  warmCount = 0;

  constructor(size: number) {
    this.warmed = new Uint8Array(size);
  }

  receive(index: number, body: string): void {
    const now = performance.now();
    const sent = this.sent.get(body);
    if (sent !== undefined) {
      this.latencies.push(now - sent.at);
      if (sent.count++ === 0) sent.first = now;
      sent.last = now;
      this.delivered++;
      this.lastAt = now;
    } else if (body.startsWith(WARM) && this.warmed[index] === 0) {
      this.warmed[index] = 1;
      this.warmCount++;
    }
  }

  /** Starts a phase: only bodies marked from now on are counted. */
  reset(): void {
    this.sent = new Map();
    this.latencies = [];
    this.delivered = 0;
    this.lastAt = 0;
  }

  mark(body: string): Sent {
    const sent: Sent = { at: performance.now(), returned: NaN, first: NaN, last: NaN, count: 0 };
    this.sent.set(body, sent);
    return sent;
  }

  /** Medians over the messages of the phase: send returned, first and last delivery (ms after sending). */
  perMessage(): { returned: number; first: number; last: number } {
    const median = (pick: (s: Sent) => number) =>
      pct(
        [...this.sent.values()]
          .map(pick)
          .filter(Number.isFinite)
          .sort((a, b) => a - b),
        50,
      );
    return {
      returned: median((s) => s.returned - s.at),
      first: median((s) => s.first - s.at),
      last: median((s) => s.last - s.at),
    };
  }
}

/** How every client reads a frame: the `next` payload's `messageAdded.body`; returns the frame's type. */
function readFrame(recorder: Recorder, index: number, data: WebSocket.RawData): string | undefined {
  const message = JSON.parse(data.toString()) as {
    type?: string;
    payload?: { data?: { messageAdded?: { body?: unknown } } };
  };
  if (message.type === 'next') {
    const body = message.payload?.data?.messageAdded?.body;
    if (typeof body === 'string') recorder.receive(index, body);
    else recorder.errors++;
  }
  return message.type;
}

interface Opened {
  /** Settles once the server accepted the connection (graphql-ws: connection_ack; raw: open). */
  ready: Promise<void>;
  close(): Promise<void> | void;
}

/** A process serving subscribers: the gateway or the raw baseline. */
interface Served {
  name: string;
  pid: number;
  output(): string;
  open(index: number, recorder: Recorder): Opened;
  send(body: string): Promise<void>;
  stop(): Promise<void>;
  /** Another process whose CPU time this side's messages cost (the subgraphs, for the gateway). */
  alsoPid?: number;
}

/** A child process started here, with everything it printed. */
interface Child {
  pid: number;
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited within 8 s. */
  stop(): Promise<void>;
}

/**
 * Starts `node --import tsx <args>` in the repository and waits until its output matches `ready`; a
 * process that does not get there (exits, or 60 s pass) is killed and the start fails.
 */
async function startChild(label: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: 'pipe',
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const signal = (s: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(s);
  };
  const stop = async () => {
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), 8_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`${label} did not start:\n${out}`)), 60_000);
      const check = () => {
        if (!ready.test(out)) return;
        clearTimeout(timer);
        res();
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      void exited.then(() => {
        clearTimeout(timer);
        rej(new Error(`${label} exited with ${child.exitCode ?? child.signalCode}:\n${out}`));
      });
    });
  } catch (err) {
    signal('SIGKILL');
    await exited;
    throw err;
  }
  return { pid: child.pid!, output: () => out, stop };
}

/** Services started with `app/cli/start.ts`, and the URLs they printed. */
async function startServices(
  services: string,
  env: NodeJS.ProcessEnv,
): Promise<Child & { urls: Record<string, string> }> {
  const child = await startChild(
    services,
    ['app/cli/start.ts', services],
    { LOG_LEVEL: 'error', NODE_ENV: 'development', SEED_DEMO: 'false', MIGRATE_ON_START: 'false', ...env },
    /Nexus Platform is up[^]*\n\n/,
  );
  const urls = Object.fromEntries(
    [...child.output().matchAll(/^\s+(\w+)\s+(http:\/\/\S+\/graphql)$/gm)].map((m) => [m[1], m[2]]),
  );
  return { ...child, urls };
}

/** NODE_OPTIONS of a serving process: collections on demand and the memory probe (bench/fanout-probe.cjs). */
function withProbe(): string {
  return [process.env.NODE_OPTIONS ?? '', '--expose-gc', `--require ${PROBE}`].join(' ').trim();
}

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { errors?: unknown };
  if (!res.ok || json.errors) throw new Error(`send failed: ${res.status} ${JSON.stringify(json)}`);
}

async function startGateway(
  input: FanoutInput,
  subgraphUrls: Record<string, string>,
  subgraphsPid: number,
): Promise<Served> {
  const proc = await startServices('gateway', {
    ...input.env,
    ...subgraphUrls,
    GATEWAY_PORT: '0',
    NODE_OPTIONS: withProbe(),
  });
  const url = proc.urls.gateway;
  if (!url) {
    await proc.stop();
    throw new Error(`the gateway printed no URL:\n${proc.output()}`);
  }
  const wsUrl = url.replace(/^http/, 'ws');
  const auth = { authorization: `Bearer ${input.accessToken}` };
  const query = input.withAuthor
    ? 'subscription($r: ID!) { messageAdded(roomId: $r) { id body author { id email } } }'
    : 'subscription($r: ID!) { messageAdded(roomId: $r) { id body } }';
  const subscribe = { query, variables: { r: input.roomId } };
  const protocolClient = (index: number, recorder: Recorder): Opened => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    socket.on('error', () => undefined);
    let accepted!: () => void;
    const ready = new Promise<void>((res, rej) => {
      accepted = res;
      socket.once('close', (code) => rej(new Error(`closed (${code})`)));
    });
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: auth })));
    socket.on('message', (data) => {
      const type = readFrame(recorder, index, data);
      if (type === 'connection_ack') {
        socket.send(JSON.stringify({ id: randomUUID(), type: 'subscribe', payload: subscribe }));
        accepted();
      } else if (type === 'ping') socket.send(JSON.stringify({ type: 'pong' }));
      else if (type === 'error') recorder.errors++;
    });
    return { ready, close: () => socket.terminate() };
  };
  const libraryClient = (index: number, recorder: Recorder): Opened => {
    let accepted!: () => void;
    let refused!: (err: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      accepted = res;
      refused = rej;
    });
    const client = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      connectionParams: auth,
      onNonLazyError: () => undefined,
      on: {
        connected: () => accepted(),
        closed: (event) => refused(new Error(`closed (${(event as { code?: number } | undefined)?.code ?? '?'})`)),
      },
    });
    client.subscribe<{ messageAdded: { body: string } }>(subscribe, {
      next: (result) => {
        const body = result.data?.messageAdded?.body;
        if (typeof body === 'string') recorder.receive(index, body);
        else recorder.errors++;
      },
      error: () => void recorder.errors++,
      complete: () => undefined,
    });
    return { ready, close: () => client.dispose() };
  };
  return {
    name: 'gateway',
    pid: proc.pid,
    alsoPid: subgraphsPid,
    output: proc.output,
    open: (index, recorder) => (input.client === 'graphql-ws' ? libraryClient : protocolClient)(index, recorder),
    send: (body) => postJson(url, { query: SEND, variables: { r: input.roomId, b: body } }, auth),
    stop: proc.stop,
  };
}

async function startRaw(): Promise<Served> {
  const proc = await startChild(
    'the raw broadcast server',
    ['bench/fanout-raw-server.ts'],
    { NODE_OPTIONS: withProbe() },
    /raw broadcast listening \S+\n/,
  );
  const url = /raw broadcast listening (\S+)/.exec(proc.output())![1];
  const wsUrl = `${url.replace(/^http/, 'ws')}/ws`;
  return {
    name: 'raw ws broadcast',
    pid: proc.pid,
    output: proc.output,
    open(index, recorder) {
      const socket = new WebSocket(wsUrl);
      socket.on('error', () => undefined);
      const ready = new Promise<void>((res, rej) => {
        socket.once('open', () => res());
        socket.once('close', (code) => rej(new Error(`closed (${code})`)));
      });
      socket.on('message', (data) => void readFrame(recorder, index, data));
      return { ready, close: () => socket.terminate() };
    },
    send: (body) => postJson(`${url}/send`, { body }),
    stop: proc.stop,
  };
}

/** RSS (from /proc) and heap of a serving process, after a full collection there. */
async function memoryOf(served: Served): Promise<{ rss: number; heapUsed: number; gc: boolean }> {
  const count = () => served.output().split(MEMORY_MARKER).length - 1;
  const before = count();
  process.kill(served.pid, 'SIGUSR2');
  const deadline = Date.now() + 15_000;
  while (count() <= before) {
    if (Date.now() > deadline) throw new Error(`${served.name} did not report its memory`);
    await sleep(25);
  }
  await sleep(200);
  const out = served.output();
  const line = out.slice(out.lastIndexOf(MEMORY_MARKER) + MEMORY_MARKER.length).split('\n')[0];
  const reported = JSON.parse(line) as { heapUsed: number; gc: boolean };
  const status = readFileSync(`/proc/${served.pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
  return { rss: rssKb * 1024, heapUsed: reported.heapUsed, gc: reported.gc };
}

function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, 12th and 13th after the command name.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

function clientCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function openAll(
  served: Served,
  size: number,
  batch: number,
  recorder: Recorder,
  opened: Opened[],
): Promise<number> {
  let failed = 0;
  for (let i = 0; i < size; i += batch) {
    const ready: Promise<void>[] = [];
    for (let j = i; j < Math.min(size, i + batch); j++) {
      const o = served.open(j, recorder);
      opened.push(o);
      ready.push(o.ready);
    }
    for (const r of await Promise.allSettled(ready)) if (r.status === 'rejected') failed++;
  }
  return failed;
}

/** Sends warm-up messages until every subscriber has received one (their subscriptions are live). */
async function warmUp(served: Served, recorder: Recorder, size: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (let k = 0; recorder.warmCount < size && Date.now() < deadline; k++) {
    await served.send(bodyOf(`${WARM} #${k}`));
    const until = Date.now() + 1_000;
    while (recorder.warmCount < size && Date.now() < until) await sleep(20);
  }
  await sleep(500); // warm-up messages still on their way
  return recorder.warmCount;
}

/** Waits until everything expected has arrived, or nothing more arrives for a while. */
async function drain(recorder: Recorder, expected: number, capMs = 120_000): Promise<void> {
  const deadline = Date.now() + capMs;
  let seen = -1;
  let idleSince = Date.now();
  while (recorder.delivered < expected && Date.now() < deadline) {
    if (recorder.delivered !== seen) {
      seen = recorder.delivered;
      idleSince = Date.now();
    } else if (Date.now() - idleSince > 5_000) return;
    await sleep(20);
  }
}

async function closeAll(opened: Opened[]): Promise<void> {
  await Promise.allSettled(opened.map(async (o) => o.close()));
  opened.length = 0;
}

export const intervalFor = (input: FanoutInput, size: number) => input.intervalMs ?? Math.max(50, size / 10);
export const throughputMessagesFor = (input: FanoutInput, size: number) =>
  input.throughputMessages ?? Math.max(input.messages, Math.ceil(200_000 / size));

async function measure(start: () => Promise<Served>, size: number, input: FanoutInput): Promise<SideResult> {
  const served = await start();
  const opened: Opened[] = [];
  try {
    // The first subscribers and messages load what every later one reuses (code, plans, the upstream
    // connection): a small round before the baseline reading keeps that out of the per-connection figure.
    const warmers = Math.min(20, size);
    const first = new Recorder(warmers);
    await openAll(served, warmers, warmers, first, opened);
    await warmUp(served, first, warmers, 20_000);
    await closeAll(opened);
    await sleep(500);

    const before = await memoryOf(served);
    const recorder = new Recorder(size);
    const t0 = performance.now();
    const failedConnections = await openAll(served, size, input.batch, recorder, opened);
    const connectSeconds = (performance.now() - t0) / 1000;
    const subscribed = await warmUp(served, recorder, size, 60_000);
    const after = await memoryOf(served);
    let sendErrors = 0;

    // Latency: a steady pace, each send on its own schedule (not waiting for the previous one).
    recorder.reset();
    const sends: Promise<void>[] = [];
    const started = performance.now();
    const interval = intervalFor(input, size);
    for (let i = 0; i < input.messages; i++) {
      const wait = started + i * interval - performance.now();
      if (wait > 0) await sleep(wait);
      const body = bodyOf(`${served.name} ${size} latency #${i}`);
      const sent = recorder.mark(body);
      sends.push(
        served.send(body).then(
          () => void (sent.returned = performance.now()),
          () => void sendErrors++,
        ),
      );
    }
    await Promise.all(sends);
    await drain(recorder, input.messages * size);
    const latencies = recorder.latencies.sort((a, b) => a - b);
    const latency = {
      p50: pct(latencies, 50),
      p99: pct(latencies, 99),
      max: latencies[latencies.length - 1] ?? NaN,
      delivered: recorder.delivered,
      expected: input.messages * size,
    };
    const perMessage = recorder.perMessage();

    // Throughput: a few senders as fast as their sends return; measured until the last delivery.
    recorder.reset();
    const serverCpu0 = cpuMsOf(served.pid);
    const clientCpu0 = clientCpuMs();
    const alsoCpu0 = served.alsoPid ? cpuMsOf(served.alsoPid) : 0;
    const tp0 = performance.now();
    const throughputMessages = throughputMessagesFor(input, size);
    let next = 0;
    await Promise.all(
      Array.from({ length: input.senders }, async () => {
        while (next < throughputMessages) {
          const body = bodyOf(`${served.name} ${size} throughput #${next++}`);
          recorder.mark(body);
          await served.send(body).catch(() => void sendErrors++);
        }
      }),
    );
    const sendSeconds = (performance.now() - tp0) / 1000;
    await drain(recorder, throughputMessages * size);
    const serverCpu = cpuMsOf(served.pid) - serverCpu0;
    const clientCpu = clientCpuMs() - clientCpu0;
    const alsoCpu = served.alsoPid ? cpuMsOf(served.alsoPid) - alsoCpu0 : undefined;
    const seconds = recorder.delivered > 0 ? (recorder.lastAt - tp0) / 1000 : NaN;
    const tpLatencies = recorder.latencies.sort((a, b) => a - b);
    const throughput = {
      messagesPerSecond: recorder.delivered / size / seconds,
      deliveriesPerSecond: recorder.delivered / seconds,
      delivered: recorder.delivered,
      expected: throughputMessages * size,
      sendSeconds,
      p99: pct(tpLatencies, 99),
    };
    const afterTraffic = await memoryOf(served);

    return {
      name: served.name,
      subscribers: size,
      failedConnections,
      subscribed,
      connectSeconds,
      subscriptionErrors: recorder.errors,
      sendErrors,
      latency,
      perMessage,
      throughput,
      memory: {
        rssBeforeMb: before.rss / 1048576,
        rssKbPerConnection: (after.rss - before.rss) / 1024 / size,
        heapKbPerConnection: (after.heapUsed - before.heapUsed) / 1024 / size,
        rssAfterTrafficKbPerConnection: (afterTraffic.rss - before.rss) / 1024 / size,
        gc: before.gc && after.gc,
      },
      cpu: {
        serverUsPerDelivery: (serverCpu * 1000) / Math.max(1, recorder.delivered),
        clientUsPerDelivery: (clientCpu * 1000) / Math.max(1, recorder.delivered),
        subgraphsMsPerMessage: alsoCpu === undefined ? undefined : alsoCpu / throughputMessages,
      },
    };
  } finally {
    await closeAll(opened);
    await served.stop();
  }
}

export async function fanoutBench(input: FanoutInput): Promise<FanoutResult[]> {
  const subgraphs = await startServices('identity,tenancy,messaging', {
    ...input.env,
    IDENTITY_PORT: '0',
    TENANCY_PORT: '0',
    MESSAGING_PORT: '0',
  });
  try {
    const urls = { ...input.otherSubgraphUrls };
    for (const [name, url] of Object.entries(subgraphs.urls)) urls[`${name.toUpperCase()}_URL`] = url;
    const results: FanoutResult[] = [];
    for (const size of input.sizes) {
      const gateway = await measure(() => startGateway(input, urls, subgraphs.pid), size, input);
      await sleep(1_000);
      const raw = await measure(startRaw, size, input);
      await sleep(1_000);
      results.push({ subscribers: size, intervalMs: intervalFor(input, size), gateway, raw });
    }
    return results;
  } finally {
    await subgraphs.stop();
  }
}

const TARGET_P99_MS = 100;
const TARGET_P99_AT = 5000;
const TARGET_KB_PER_CONNECTION = 30;
const TARGET_THROUGHPUT_RATIO = 0.5;

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const big = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');

/** The printed block: per N the gateway and the baseline, the ratios, then the targets. */
export function formatFanout(results: FanoutResult[], input: FanoutInput): string {
  const lines = [
    '',
    `Subscription fan-out: one room; latency: ${input.messages} messages at a steady pace; throughput: ${input.senders} senders as fast as their sends return`,
    `  selection ${input.withAuthor ? '{ id body author { id email } }' : '{ id body }'}; gateway clients: ${input.client === 'graphql-ws' ? "graphql-ws's createClient" : 'graphql-transport-ws on plain ws, same frame reader as the baseline'}`,
    `  gateway, raw ws server (both fresh per N) and subgraphs each in their own process, all clients and senders in this one`,
  ];
  const row = (r: SideResult) =>
    `    ${r.name.padEnd(17)} p50 ${f(r.latency.p50, 2).padStart(8)} ms  p99 ${f(r.latency.p99, 2).padStart(8)} ms` +
    `  ${f(r.throughput.messagesPerSecond).padStart(7)} msg/s  ${big(r.throughput.deliveriesPerSecond).padStart(9)} deliveries/s` +
    `  ${f(r.memory.rssKbPerConnection).padStart(6)} KB/conn (heap ${f(r.memory.heapKbPerConnection)})` +
    `  delivered ${r.latency.delivered}/${r.latency.expected} + ${r.throughput.delivered}/${r.throughput.expected}`;
  const detail = (r: SideResult) =>
    `      per message (medians): send returned ${f(r.perMessage.returned, 1)} ms, first delivery ${f(r.perMessage.first, 1)} ms, last ${f(r.perMessage.last, 1)} ms\n` +
    `      connect ${f(r.connectSeconds)} s (${r.failedConnections} failed, ${r.subscribed}/${r.subscribers} live)` +
    `  rss before ${f(r.memory.rssBeforeMb, 0)} MB, after traffic ${f(r.memory.rssAfterTrafficKbPerConnection)} KB/conn` +
    `  cpu/delivery: server ${f(r.cpu.serverUsPerDelivery, 2)} µs, clients ${f(r.cpu.clientUsPerDelivery, 2)} µs` +
    (r.cpu.subgraphsMsPerMessage === undefined
      ? ''
      : `, subgraphs ${f(r.cpu.subgraphsMsPerMessage, 2)} ms/message (with their polling)`) +
    `  throughput-phase p99 ${f(r.throughput.p99, 0)} ms, sends took ${f(r.throughput.sendSeconds, 2)} s` +
    (r.subscriptionErrors || r.sendErrors ? `  errors: ${r.subscriptionErrors} received, ${r.sendErrors} sends` : '');
  for (const { subscribers, intervalMs, gateway, raw } of results) {
    lines.push(
      `  N = ${subscribers}: latency pace one message every ${f(intervalMs, 0)} ms (${big((1000 / intervalMs) * subscribers)} deliveries/s offered);` +
        ` throughput ${throughputMessagesFor(input, subscribers)} messages`,
    );
    lines.push(row(raw), detail(raw), row(gateway), detail(gateway));
    lines.push(
      `    gateway vs raw: p50 ×${f(gateway.latency.p50 / raw.latency.p50, 2)}, p99 ×${f(gateway.latency.p99 / raw.latency.p99, 2)},` +
        ` throughput ×${f(gateway.throughput.deliveriesPerSecond / raw.throughput.deliveriesPerSecond, 2)},` +
        ` memory/conn ×${f(gateway.memory.rssKbPerConnection / raw.memory.rssKbPerConnection, 2)}`,
    );
    const complete = (r: SideResult) =>
      r.latency.delivered === r.latency.expected && r.throughput.delivered === r.throughput.expected;
    if (!complete(gateway) || !complete(raw))
      lines.push('    WARNING: not every expected delivery arrived (see delivered above)');
  }
  const at = results.find((r) => r.subscribers === TARGET_P99_AT) ?? results[results.length - 1];
  if (at) {
    const p99 = at.gateway.latency.p99;
    lines.push(
      `  targets:`,
      at.subscribers === TARGET_P99_AT
        ? `    p99 ≤ ${TARGET_P99_MS} ms at ${TARGET_P99_AT} subscribers: ${verdict(p99 <= TARGET_P99_MS)} (${f(p99, 1)} ms)`
        : `    p99 ≤ ${TARGET_P99_MS} ms at ${TARGET_P99_AT} subscribers: not measured (${f(p99, 1)} ms at ${at.subscribers})`,
    );
    const memory = results.map((r) => `${f(r.gateway.memory.rssKbPerConnection)} KB at ${r.subscribers}`).join(', ');
    lines.push(
      `    ≤ ${TARGET_KB_PER_CONNECTION} KB per connection: ${verdict(results.every((r) => r.gateway.memory.rssKbPerConnection <= TARGET_KB_PER_CONNECTION))} (${memory})`,
    );
    const ratios = results
      .map(
        (r) =>
          `×${f(r.gateway.throughput.deliveriesPerSecond / r.raw.throughput.deliveriesPerSecond, 2)} at ${r.subscribers}`,
      )
      .join(', ');
    lines.push(
      `    ≥ ${TARGET_THROUGHPUT_RATIO}× the raw baseline's throughput: ${verdict(
        results.every(
          (r) =>
            r.gateway.throughput.deliveriesPerSecond / r.raw.throughput.deliveriesPerSecond >= TARGET_THROUGHPUT_RATIO,
        ),
      )} (${ratios})`,
    );
  }
  return `${lines.join('\n')}\n`;
}
