import type { KeyObject } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { CONTEXT_HEADER, signContextToken } from '../../kernel/context-token';
import { systemContext, type RequestContext } from '../../kernel/context';
import { logger } from '../../kernel/log';
import { AUDIENCE_EXTENSION, PROBE_EXTENSION } from '../../kernel/subscription-audience';

type GraphQLErrors = readonly { message: string; extensions?: Record<string, unknown> }[];

/** The owning subgraph's answer to "may this caller subscribe?": the audience to share with, or why not. */
export type Admission = { audience: string } | { errors: GraphQLErrors };

export interface UpstreamSink {
  /** An event; `errors` are field errors that came with it (the subscription goes on). */
  next(data: Record<string, unknown>, errors?: GraphQLErrors): void;
  /** GraphQL errors from the subgraph (the subscription was refused or failed): final. */
  refused(errors: readonly { message: string; extensions?: Record<string, unknown> }[]): void;
  /** The subgraph stream ended. */
  complete(): void;
}

const log = logger('gateway.upstream');

function isStaleContext(errors: readonly { message: string; extensions?: Record<string, unknown> }[]): boolean {
  return errors.length > 0 && errors.every((e) => e.extensions?.code === 'UNAUTHENTICATED' && /context \(expired|max age|"iat"/.test(e.message));
}

/**
 * One graphql-ws connection per subgraph, shared by every subscription the gateway routes there. The
 * connection proves it is the gateway (a fresh signed system context on each connect); each operation
 * carries its caller's own signed context in `extensions`. When the connection drops, operations are
 * subscribed again with freshly signed contexts.
 */
export class UpstreamPool {
  private readonly clients = new Map<string, Client>();
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
        lazy: true,
        lazyCloseTimeout: 5_000,
        keepAlive: 15_000,
        retryAttempts: 1_000_000,
        shouldRetry: () => true,
        connectionParams: async () => ({
          [CONTEXT_HEADER]: await signContextToken(systemContext('gateway-ws'), subgraph, this.contextKey),
        }),
      });
      this.clients.set(subgraph, client);
    }
    return client;
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
          const settle = (a: Admission) => {
            if (settled) return;
            settled = true;
            resolve(a);
          };
          const cancel = this.client(subgraph).subscribe<Record<string, unknown>>(
            { query, variables, extensions: { [CONTEXT_HEADER]: token, [PROBE_EXTENSION]: true } },
            {
              next: (result) => {
                if (result.errors?.length) settle({ errors: result.errors });
                else {
                  const audience = (result.extensions as Record<string, unknown> | undefined)?.[AUDIENCE_EXTENSION];
                  settle(typeof audience === 'string' ? { audience } : { errors: [{ message: 'Subscription was not admitted', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
                }
                cancel();
              },
              error: (err) => {
                if (Array.isArray(err)) settle({ errors: err as GraphQLErrors });
                else if (!settled) {
                  settled = true;
                  reject(err instanceof Error ? err : new Error('upstream unavailable'));
                }
              },
              complete: () => settle({ errors: [{ message: 'Subscription ended at once', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] }),
            },
          );
        }),
    );
  }

  /** Subscribes; returns the function that ends the subscription. */
  subscribe(subgraph: string, query: string, variables: Record<string, unknown>, ctx: RequestContext, sink: UpstreamSink): () => void {
    let stopped = false;
    let cancel: (() => void) | null = null;
    let attempt = 0;
    const start = async () => {
      if (stopped || this.closed) return;
      const token = await signContextToken(ctx, subgraph, this.contextKey);
      if (stopped) return;
      cancel = this.client(subgraph).subscribe<Record<string, unknown>>(
        { query, variables, extensions: { [CONTEXT_HEADER]: token } },
        {
          next: (result) => {
            if (stopped) return;
            attempt = 0;
            if (result.data) sink.next(result.data, result.errors);
            else if (result.errors?.length) {
              // No data: the subscription itself was refused (its checks failed): it ends here.
              stopped = true;
              cancel?.();
              sink.refused(result.errors);
            }
          },
          error: (err) => {
            if (stopped) return;
            if (Array.isArray(err) && isStaleContext(err)) {
              // The connection came back and re-sent an operation whose signed context had expired.
              cancel?.();
              void start();
              return;
            }
            if (Array.isArray(err)) {
              stopped = true;
              sink.refused(err);
              return;
            }
            // Transport trouble: subscribe again (fresh context) with backoff.
            attempt++;
            log.warn({ subgraph, attempt }, 'upstream subscription lost; subscribing again');
            setTimeout(() => void start(), Math.min(5_000, 100 * 2 ** attempt)).unref();
          },
          complete: () => {
            if (stopped) return;
            stopped = true;
            sink.complete();
          },
        },
      );
    };
    void start().catch((err) => {
      log.error({ err, subgraph }, 'upstream subscribe failed');
      sink.refused([{ message: 'Subscription could not be started', extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
    });
    return () => {
      stopped = true;
      cancel?.();
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.clients.values()].map((c) => c.dispose()));
    this.clients.clear();
  }
}
