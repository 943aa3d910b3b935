import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { CONTEXT_HEADER, signContextToken } from '../kernel/context-token';
import { systemContext, type RequestContext } from '../kernel/context';
import type { KeyObject } from 'node:crypto';

/**
 * Send→receive latency with N subscribers in one room: through the gateway (federated selection with
 * the author from identity) and, as the baseline in the same run, straight to the messaging subgraph.
 */
export interface SubscriptionBenchInput {
  gatewayUrl: string;
  messagingUrl: string;
  accessToken: string;
  roomId: string;
  ctx: RequestContext;
  contextKey: KeyObject;
  subscribers: number;
  messages: number;
}

interface Measured {
  name: string;
  p50: number;
  p99: number;
  delivered: number;
  expected: number;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function run(
  name: string,
  clients: Client[],
  payload: () => Promise<{ query: string; variables: Record<string, unknown>; extensions?: Record<string, unknown> }>,
  send: (body: string) => Promise<void>,
  messages: number,
): Promise<Measured> {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let delivered = 0;
  const stops: (() => void)[] = [];
  for (const client of clients) {
    const p = await payload();
    stops.push(
      client.subscribe<{ messageAdded: { body: string } }>(p, {
        next: (r) => {
          const body = r.data?.messageAdded.body;
          const t0 = body ? sentAt.get(body) : undefined;
          if (t0 !== undefined) {
            latencies.push(performance.now() - t0);
            delivered++;
          }
        },
        error: () => undefined,
        complete: () => undefined,
      }),
    );
  }
  await new Promise((r) => setTimeout(r, 1500)); // every subscription established
  for (let i = 0; i < messages; i++) {
    const body = `${name} #${i}`;
    sentAt.set(body, performance.now());
    await send(body);
    await new Promise((r) => setTimeout(r, 20));
  }
  const deadline = Date.now() + 10_000;
  while (delivered < messages * clients.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const stop of stops) stop();
  latencies.sort((a, b) => a - b);
  return { name, p50: pct(latencies, 50), p99: pct(latencies, 99), delivered, expected: messages * clients.length };
}

export async function subscriptionBench(input: SubscriptionBenchInput): Promise<Measured[]> {
  const ws = (url: string, params: () => Promise<Record<string, unknown>>) =>
    createClient({
      url: url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: params,
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: () => undefined,
    });
  const send = async (body: string) => {
    const res = await fetch(input.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${input.accessToken}` },
      body: JSON.stringify({
        query: 'mutation($r: ID!, $b: String!) { sendMessage(input: { roomId: $r, body: $b }) { id } }',
        variables: { r: input.roomId, b: body },
      }),
    });
    if (!res.ok) throw new Error(`send failed: ${res.status}`);
  };
  const direct = Array.from({ length: input.subscribers }, () =>
    ws(input.messagingUrl, async () => ({
      [CONTEXT_HEADER]: await signContextToken(systemContext('bench'), 'messaging', input.contextKey),
    })),
  );
  const viaGateway = Array.from({ length: input.subscribers }, () =>
    ws(input.gatewayUrl, async () => ({ authorization: `Bearer ${input.accessToken}` })),
  );
  try {
    const baseline = await run(
      'baseline: messaging subgraph direct',
      direct,
      async () => ({
        query: 'subscription($r: ID!) { messageAdded(roomId: $r) { id body } }',
        variables: { r: input.roomId },
        extensions: { [CONTEXT_HEADER]: await signContextToken(input.ctx, 'messaging', input.contextKey) },
      }),
      send,
      input.messages,
    );
    const gateway = await run(
      'gateway: + author from identity',
      viaGateway,
      async () => ({
        query: 'subscription($r: ID!) { messageAdded(roomId: $r) { id body author { id email } } }',
        variables: { r: input.roomId },
      }),
      send,
      input.messages,
    );
    return [baseline, gateway];
  } finally {
    await Promise.all([...direct, ...viaGateway].map((c) => c.dispose()));
  }
}
