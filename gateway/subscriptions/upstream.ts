import type { KeyObject } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { CONTEXT_HEADER, signContextToken } from '../../kernel/context-token';
import { systemContext, type RequestContext } from '../../kernel/context';
import { logger } from '../../kernel/log';
import { AUDIENCE_EXTENSION, PROBE_EXTENSION } from '../../kernel/subscription-audience';

type GraphQLErrors = readonly {
  message: string;
  path?: readonly (string | number)[];
  extensions?: Record<string, unknown>;
}[];

/** The owning subgraph's answer to "may this caller subscribe?": the audience to share with, or why not. */
export type Admission = { audience: string } | { errors: GraphQLErrors };

export interface UpstreamSink {
  /** An event; `errors` are field errors that came with it (the subscription goes on). */
  next(data: Record<string, unknown>, errors?: GraphQLErrors): void;
  /** GraphQL errors from the subgraph (the subscription was refused or failed): final. */
  refused(errors: readonly { message: string; extensions?: Record<string, unknown> }[]): void;
  /**
   * Events may have been lost: the connection to the subgraph dropped (a restart, a crash, the network)
   * or the subgraph ended the stream. Final: the subscription is not sent again, since whatever happened
   * in between would be missing without anyone knowing.
   */
  interrupted(): void;
}

/** How long to wait before connecting to a subgraph again: quickly at first, never more than ~3 s. */
function retryDelay(retries: number): number {
  return Math.min(3_000, 100 * 2 ** retries) + Math.floor(Math.random() * 300);
}

/** A probe that gets no answer in this time is taken as the subgraph being unavailable. */
const PROBE_TIMEOUT_MS = 10_000;

const log = logger('gateway.upstream');

function isStaleContext(errors: readonly { message: string; extensions?: Record<string, unknown> }[]): boolean {
  return (
    errors.length > 0 &&
    errors.every((e) => e.extensions?.code === 'UNAUTHENTICATED' && /context \(expired|max age|"iat"/.test(e.message))
  );
}

/**
 * One graphql-ws connection per subgraph, shared by every subscription the gateway routes there, kept
 * open and re-established (with a fresh signed system context) whenever it drops. The connection proves
 * it is the gateway; each operation carries its caller's own signed context in `extensions`. When the
 * connection drops, every operation on it is told it was interrupted (and probes waiting for it fail)
 * rather than being sent again, which would hide the events missed in between.
 */
export class UpstreamPool {
  private readonly clients = new Map<string, Client>();
  /** Per subgraph: what to tell operations in flight when its connection drops. */
  private readonly inFlight = new Map<string, Set<() => void>>();
  /** Waits before reconnecting, cut short on close. */
  private readonly waits = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly urls: Map<string, string>,
    private readonly contextKey: KeyObject,
  ) {}

  private client(subgraph: string): Client {
    let client = this.clients.get(subgraph);
    if (!client) {
      const http = this.urls.get(subgraph);
      if (!http) throw new Error(`No URL for subgraph ${subgraph}`);
      client = createClient({
        url: http.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        // Always connected (from the first use on): a close is then always a lost connection, never an idle one.
        lazy: false,
        onNonLazyError: (err) => log.warn({ subgraph, err }, 'subgraph WebSocket connection refused'),
        keepAlive: 15_000,
        connectionAckWaitTimeout: 5_000,
        retryAttempts: Number.MAX_SAFE_INTEGER,
        retryWait: (retries) =>
          new Promise<void>((resolve) => {
            if (this.closed) return resolve();
            const done = () => {
              clearTimeout(timer);
              this.waits.delete(done);
              resolve();
            };
            const timer = setTimeout(done, retryDelay(retries));
            this.waits.add(done);
          }),
        shouldRetry: () => true,
        connectionParams: async () => ({
          [CONTEXT_HEADER]: await signContextToken(systemContext('gateway-ws'), subgraph, this.contextKey),
        }),
        on: {
          closed: () => this.connectionLost(subgraph),
        },
      });
      this.clients.set(subgraph, client);
    }
    return client;
  }

  private connectionLost(subgraph: string): void {
    const operations = this.inFlight.get(subgraph);
    if (!operations?.size || this.closed) return;
    log.warn(
      { subgraph, operations: operations.size },
      'connection to the subgraph lost; its subscriptions are interrupted',
    );
    for (const interrupt of [...operations]) interrupt();
  }

  /** Registers what to do if the subgraph's connection drops while an operation is in flight; returns its removal. */
  private track(subgraph: string, onLost: () => void): () => void {
    let operations = this.inFlight.get(subgraph);
    if (!operations) this.inFlight.set(subgraph, (operations = new Set()));
    const set = operations;
    set.add(onLost);
    return () => set.delete(onLost);
  }

  /**
   * Runs the subscription's own checks in the owning subgraph for this caller, without staying
   * subscribed: admitted with the audience it declared, or refused with its errors.
   */
  probe(subgraph: string, query: string, variables: Record<string, unknown>, ctx: RequestContext): Promise<Admission> {
    return signContextToken(ctx, subgraph, this.contextKey).then(
      (token) =>
        new Promise<Admission>((resolve, reject) => {
          let settled = false;
          const done = () => {
            settled = true;
            untrack();
            clearTimeout(timer);
          };
          const settle = (a: Admission) => {
            if (settled) return;
            done();
            resolve(a);
          };
          const fail = (err: Error) => {
            if (settled) return;
            done();
            cancel();
            reject(err);
          };
          // Unreachable subgraph: fail now (the next connection attempt failed) rather than wait for it.
          const untrack = this.track(subgraph, () => fail(new Error('upstream unavailable')));
          const timer = setTimeout(() => fail(new Error('upstream did not answer')), PROBE_TIMEOUT_MS);
          const cancel = this.client(subgraph).subscribe<Record<string, unknown>>(
            { query, variables, extensions: { [CONTEXT_HEADER]: token, [PROBE_EXTENSION]: true } },
            {
              // One answer, then the subgraph completes the probe itself (completing it from here too would
              // release the client's hold on its connection twice).
              next: (result) => {
                if (result.errors?.length) settle({ errors: result.errors });
                else {
                  const audience = (result.extensions as Record<string, unknown> | undefined)?.[AUDIENCE_EXTENSION];
                  settle(
                    typeof audience === 'string'
                      ? { audience }
                      : {
                          errors: [
                            { message: 'Subscription was not admitted', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
                          ],
                        },
                  );
                }
              },
              error: (err) => {
                if (Array.isArray(err)) settle({ errors: err as GraphQLErrors });
                else fail(err instanceof Error ? err : new Error('upstream unavailable'));
              },
              complete: () =>
                settle({
                  errors: [{ message: 'Subscription ended at once', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
                }),
            },
          );
        }),
    );
  }

  /** Subscribes; returns the function that ends the subscription. */
  subscribe(
    subgraph: string,
    query: string,
    variables: Record<string, unknown>,
    ctx: RequestContext,
    sink: UpstreamSink,
  ): () => void {
    let stopped = false;
    let cancel: (() => void) | null = null;
    let untrack: (() => void) | null = null;
    const end = () => {
      stopped = true;
      untrack?.();
      cancel?.();
    };
    const interrupted = () => {
      if (stopped) return;
      end();
      sink.interrupted();
    };
    const start = async () => {
      if (stopped || this.closed) return;
      const token = await signContextToken(ctx, subgraph, this.contextKey);
      if (stopped) return;
      untrack?.();
      untrack = this.track(subgraph, interrupted);
      cancel = this.client(subgraph).subscribe<Record<string, unknown>>(
        { query, variables, extensions: { [CONTEXT_HEADER]: token } },
        {
          next: (result) => {
            if (stopped) return;
            if (result.data) sink.next(result.data, result.errors);
            else if (result.errors?.length) {
              // No data: the subscription itself was refused (its checks failed); the subgraph completes it.
              stopped = true;
              untrack?.();
              sink.refused(result.errors);
            }
          },
          error: (err) => {
            if (stopped) return;
            if (Array.isArray(err) && isStaleContext(err)) {
              // Sent late (the connection was being made) with a signed context that had expired meanwhile.
              cancel?.();
              void start();
              return;
            }
            if (Array.isArray(err)) {
              end();
              sink.refused(err);
              return;
            }
            log.warn({ subgraph, err }, 'upstream subscription failed');
            interrupted();
          },
          // A subgraph's stream never ends by itself while it runs (its pub/sub closing on shutdown does that).
          complete: interrupted,
        },
      );
    };
    void start().catch((err) => {
      log.error({ err, subgraph }, 'upstream subscribe failed');
      if (stopped) return;
      end();
      sink.refused([{ message: 'Subscription could not be started', extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
    });
    return end;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const cut of [...this.waits]) cut();
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(
      clients.map(async (client) => {
        // A connection attempt under way (to a subgraph that is down) is abandoned rather than awaited.
        const disposed = Promise.resolve(client.dispose()).catch(() => undefined);
        client.terminate();
        await disposed;
      }),
    );
  }
}
