import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/**
 * Subscription amplification: one member of tenant A tries to open N subscriptions (by default 1,000) to
 * the room where messages are then posted, each under its own alias of the root field and with one of ten
 * selections (each selection a lookup per event through the gateway, the author from identity), spread over
 * as many connections as a connection's limit needs; then messages are posted in A at a steady pace while
 * a member of tenant B runs a cheap query (`me`). Prints how many subscriptions were accepted (and why the
 * others were refused), the deliveries, and B's p50/p99 with nothing else running and under that load,
 * with the ratio of the p99s (target ≤ 2). The gateway runs with the subscription limits of the environment
 * (the defaults unless WS_MAX_* are set).
 */
export interface AmplificationInput {
  gatewayUrl: string;
  attackerToken: string;
  roomId: string;
  /** Another tenant's member. */
  victimToken: string;
  subscriptions: number;
  /** Subscriptions tried on one connection before opening the next. */
  perConnection: number;
  /** Samples of B's query per phase. */
  samples: number;
  /** Pace of the messages posted in A while B is measured. */
  messageIntervalMs: number;
}

export interface AmplificationResult {
  attempted: number;
  connections: number;
  connectionsRefused: number;
  accepted: number;
  refused: Record<string, number>;
  /** Distinct selections among the accepted subscriptions (lookups per event). */
  selections: number;
  messages: number;
  delivered: number;
  expected: number;
  idle: { p50: number; p99: number };
  /** Messages posted at the same pace, nobody subscribed. */
  postingOnly: { p50: number; p99: number };
  loaded: { p50: number; p99: number };
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const SELECTIONS = 10;

async function post(url: string, token: string, body: unknown): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { errors?: unknown };
  if (!res.ok || json.errors) throw new Error(`request failed: ${res.status} ${JSON.stringify(json)}`);
}

/** B's cheap query, one at a time every 20 ms (as the sign-in bench's): `samples` latencies after 30 to warm up. */
async function cheapQueries(input: AmplificationInput, samples: number): Promise<{ p50: number; p99: number }> {
  const latencies: number[] = [];
  for (let i = 0; i < samples + 30; i++) {
    const t0 = performance.now();
    await post(input.gatewayUrl, input.victimToken, { query: '{ me { id } }' });
    if (i >= 30) latencies.push(performance.now() - t0);
    await sleep(20);
  }
  latencies.sort((a, b) => a - b);
  return { p50: pct(latencies, 50), p99: pct(latencies, 99) };
}

/** Posts messages in A at the input's pace while `measure` runs; returns what it measured and how many were posted. */
async function whilePosting<T>(
  input: AmplificationInput,
  measure: () => Promise<T>,
): Promise<{ measured: T; messages: number }> {
  let messages = 0;
  let posting = true;
  const poster = (async () => {
    while (posting) {
      await post(input.gatewayUrl, input.attackerToken, {
        query: 'mutation($r: ID!, $b: String!) { sendMessage(input: { roomId: $r, body: $b }) { id } }',
        variables: { r: input.roomId, b: `load ${messages}` },
      });
      messages++;
      await sleep(input.messageIntervalMs);
    }
  })();
  try {
    return { measured: await measure(), messages };
  } finally {
    posting = false;
    await poster;
  }
}

export async function amplificationBench(input: AmplificationInput): Promise<AmplificationResult> {
  const idle = await cheapQueries(input, input.samples);
  // The messages alone, before anyone subscribes: what posting costs B by itself.
  const { measured: postingOnly } = await whilePosting(input, () => cheapQueries(input, input.samples));

  const clients: Client[] = [];
  let connectionsRefused = 0;
  const refused: Record<string, number> = {};
  const received = new Map<number, number>();
  const settled = new Set<number>();
  const selectionOf = (i: number) => i % SELECTIONS;
  const url = input.gatewayUrl.replace(/^http/, 'ws');
  for (let i = 0; i < input.subscriptions; i++) {
    if (i % input.perConnection === 0) {
      clients.push(
        createClient({
          url,
          webSocketImpl: WebSocket,
          connectionParams: { authorization: `Bearer ${input.attackerToken}` },
          lazy: false,
          retryAttempts: 0,
          onNonLazyError: () => undefined,
          on: { closed: (e) => void ((e as { code?: number }).code === 4429 && connectionsRefused++) },
        }),
      );
    }
    const n = selectionOf(i);
    const query = `subscription($r: ID!) { s${i}: roomEvents(roomId: $r) { id kind v${n}: at message { body author { email } } } }`;
    clients.at(-1)!.subscribe(
      { query, variables: { r: input.roomId } },
      {
        next: () => received.set(i, (received.get(i) ?? 0) + 1),
        error: (err) => {
          settled.add(i);
          const first = Array.isArray(err) ? (err[0] as { extensions?: { code?: string; scope?: string } }) : undefined;
          const why = first?.extensions
            ? `${first.extensions.code}${first.extensions.scope ? ` (${first.extensions.scope})` : ''}`
            : 'connection closed';
          refused[why] = (refused[why] ?? 0) + 1;
        },
        complete: () => settled.add(i),
      },
    );
  }
  // Refusals come back at once; the accepted ones are those that get a message.
  await sleep(3000);
  await post(input.gatewayUrl, input.attackerToken, {
    query: 'mutation($r: ID!) { sendMessage(input: { roomId: $r, body: "warm-up" }) { id } }',
    variables: { r: input.roomId },
  });
  const warmDeadline = Date.now() + 10_000;
  const open = () => input.subscriptions - settled.size;
  while (received.size < open() && Date.now() < warmDeadline) await sleep(50);
  const accepted = [...received.keys()];
  const selections = new Set(accepted.map(selectionOf)).size;
  const before = [...received.values()].reduce((a, b) => a + b, 0);

  const { measured: loaded, messages } = await whilePosting(input, () => cheapQueries(input, input.samples));
  const expected = messages * accepted.length;
  const drainDeadline = Date.now() + 15_000;
  const delivered = () => [...received.values()].reduce((a, b) => a + b, 0) - before;
  while (delivered() < expected && Date.now() < drainDeadline) await sleep(100);
  const result: AmplificationResult = {
    attempted: input.subscriptions,
    connections: clients.length,
    connectionsRefused,
    accepted: accepted.length,
    refused,
    selections,
    messages,
    delivered: delivered(),
    expected,
    idle,
    postingOnly,
    loaded,
  };
  await Promise.all(clients.map((c) => c.dispose()));
  return result;
}

export function formatAmplification(r: AmplificationResult, input: AmplificationInput): string {
  const refusals = Object.entries(r.refused)
    .map(([why, n]) => `${n} ${why}`)
    .join(', ');
  const ratio = r.loaded.p99 / r.idle.p99;
  return [
    '',
    `Subscription amplification: one member of tenant A tries ${r.attempted} subscriptions to one room (an alias each, ${SELECTIONS} selections), gateway in its own process, WS_MAX_* as configured (the defaults unless set)`,
    `  accepted ${r.accepted} of ${r.attempted} on ${r.connections - r.connectionsRefused} connections (${r.connectionsRefused} connections refused); ${r.selections} distinct selections`,
    `  refused: ${refusals || 'none'}`,
    `  messages posted in A while measuring (every ${input.messageIntervalMs} ms): ${r.messages}; deliveries ${r.delivered}/${r.expected}`,
    `  tenant B: me, nothing else running                    p50 ${r.idle.p50.toFixed(2).padStart(7)} ms  p99 ${r.idle.p99.toFixed(2).padStart(7)} ms`,
    `  tenant B: me, A posting, nobody subscribed            p50 ${r.postingOnly.p50.toFixed(2).padStart(7)} ms  p99 ${r.postingOnly.p99.toFixed(2).padStart(7)} ms  (p99 ×${(r.postingOnly.p99 / r.idle.p99).toFixed(2)} of idle)`,
    `  tenant B: me, A posting to A's ${String(r.accepted).padEnd(4)} subscriptions    p50 ${r.loaded.p50.toFixed(2).padStart(7)} ms  p99 ${r.loaded.p99.toFixed(2).padStart(7)} ms  (p99 ×${ratio.toFixed(2)} of idle; target ≤ 2)`,
    '',
  ].join('\n');
}
