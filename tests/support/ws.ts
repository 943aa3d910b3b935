import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';

/** A real graphql-ws client against the gateway, with the results and the close event it saw. */
export interface WsSession {
  client: Client;
  closed: Promise<{ code: number; reason: string }>;
  subscribe<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Subscription<T>;
  dispose(): Promise<void>;
}

export interface Subscription<T> {
  results: FormattedExecutionResult<T>[];
  /** Resolves once `n` results arrived (rejects after `ms`). */
  waitFor(n: number, ms?: number): Promise<FormattedExecutionResult<T>[]>;
  /** Waits until `done(results)` holds (e.g. a given event arrived, whatever else came before it). */
  waitUntil(
    done: (results: FormattedExecutionResult<T>[]) => boolean,
    ms?: number,
    expected?: string,
  ): Promise<FormattedExecutionResult<T>[]>;
  completed: Promise<void>;
  error: Promise<unknown>;
  unsubscribe(): void;
}

export function wsUrl(httpUrl: string): string {
  return httpUrl.replace(/^http/, 'ws');
}

/** `headers`: sent with the handshake (e.g. X-Forwarded-For, to pose as a client at another address). */
export function connect(
  gatewayUrl: string,
  connectionParams: Record<string, unknown> | undefined,
  headers?: Record<string, string>,
): WsSession {
  let resolveClosed!: (e: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => (resolveClosed = r));
  const client = createClient({
    url: wsUrl(gatewayUrl),
    webSocketImpl: headers
      ? class extends WebSocket {
          constructor(url: string, protocols?: string | string[]) {
            super(url, protocols, { headers });
          }
        }
      : WebSocket,
    connectionParams,
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => undefined,
    on: {
      closed: (event) => {
        const e = event as { code: number; reason: string };
        resolveClosed({ code: e.code, reason: String(e.reason) });
      },
    },
  });
  return {
    client,
    closed,
    subscribe<T>(query: string, variables: Record<string, unknown> = {}): Subscription<T> {
      const results: FormattedExecutionResult<T>[] = [];
      const waiters: (() => void)[] = [];
      let resolveCompleted!: () => void;
      let resolveError!: (e: unknown) => void;
      const completed = new Promise<void>((r) => (resolveCompleted = r));
      const error = new Promise<unknown>((r) => (resolveError = r));
      const unsubscribe = client.subscribe<T>(
        { query, variables },
        {
          next: (r) => {
            results.push(r as FormattedExecutionResult<T>);
            for (const w of waiters.splice(0)) w();
          },
          error: (e) => {
            resolveError(e);
            for (const w of waiters.splice(0)) w();
          },
          complete: () => {
            resolveCompleted();
            for (const w of waiters.splice(0)) w();
          },
        },
      );
      return {
        results,
        completed,
        error,
        unsubscribe,
        waitFor(n: number, ms = 5000) {
          return this.waitUntil((r) => r.length >= n, ms, `expected ${n} results`);
        },
        async waitUntil(
          done: (results: FormattedExecutionResult<T>[]) => boolean,
          ms = 5000,
          expected = 'the awaited result',
        ) {
          const deadline = Date.now() + ms;
          while (!done(results)) {
            const left = deadline - Date.now();
            if (left <= 0)
              throw new Error(`${expected} did not arrive, got ${results.length}: ${JSON.stringify(results)}`);
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, left);
              waiters.push(() => {
                clearTimeout(timer);
                resolve();
              });
            });
          }
          return results;
        },
      };
    },
    dispose: () => client.dispose() as Promise<void>,
  };
}

/**
 * Calls `ping` (something every subscription given should receive, e.g. a message in their room) until each has
 * received an event since the call: they are admitted and live upstream, which takes a moment after subscribing.
 */
export async function untilLive(
  subs: Subscription<unknown>[],
  ping: () => Promise<unknown>,
  { timeoutMs = 10_000, waitMs = 300 } = {},
): Promise<void> {
  const before = subs.map((s) => s.results.length);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await ping();
    const waited = await Promise.all(
      subs.map((s, i) =>
        s.waitFor(before[i] + 1, waitMs).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (waited.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`subscriptions not live: ${JSON.stringify(subs.map((s) => s.results))}`);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
