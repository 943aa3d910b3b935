import type { KeyObject } from 'node:crypto';
import { CONTEXT_HEADER, signContextToken } from '../kernel/context-token';
import { systemContext } from '../kernel/context';
import { serviceUnavailable } from '../kernel/errors';
import { logger } from '../kernel/log';

const log = logger('gateway.internal');

/** The gateway's calls to a subgraph outside GraphQL (POST /internal/<name>), signed as the gateway itself. */
export class InternalClient {
  constructor(
    private readonly subgraph: string,
    private readonly subgraphUrl: () => string | undefined,
    private readonly contextKey: KeyObject,
  ) {}

  /** Fails closed: when the subgraph cannot answer, the request is refused with 503 and Retry-After (never let through). */
  async call<T>(name: string, body: unknown): Promise<T> {
    try {
      return await this.send<T>(name, body);
    } catch (err) {
      log.error({ err, subgraph: this.subgraph, call: name }, 'subgraph unreachable');
      throw serviceUnavailable('Access checks are unavailable right now; try again shortly');
    }
  }

  private async send<T>(name: string, body: unknown): Promise<T> {
    const url = this.subgraphUrl();
    if (!url) throw new Error(`${this.subgraph} is not reachable`);
    const res = await fetch(url.replace(/\/graphql$/, `/internal/${name}`), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [CONTEXT_HEADER]: await signContextToken(systemContext(`gateway-${name}`), this.subgraph, this.contextKey),
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) {
      log.error({ status: res.status, subgraph: this.subgraph, call: name }, 'internal call failed');
      throw new Error(`${this.subgraph} call ${name} failed`);
    }
    return ((await res.json()) as { result: T }).result;
  }
}
