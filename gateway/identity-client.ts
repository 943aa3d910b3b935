import type { KeyObject } from 'node:crypto';
import { CONTEXT_HEADER, signContextToken } from '../kernel/context-token';
import { systemContext } from '../kernel/context';
import { AppError } from '../kernel/errors';
import { logger } from '../kernel/log';

const log = logger('gateway.identity');

/** The gateway's calls to identity outside GraphQL (POST /internal/<name>), signed as the gateway itself. */
export class IdentityClient {
  constructor(
    private readonly identityUrl: () => string | undefined,
    private readonly contextKey: KeyObject,
  ) {}

  /** Fails closed: when identity cannot answer, the request is refused with 503 (never let through). */
  async call<T>(name: string, body: unknown): Promise<T> {
    try {
      return await this.send<T>(name, body);
    } catch (err) {
      log.error({ err, call: name }, 'identity unreachable');
      throw new AppError('SERVICE_UNAVAILABLE', 'Access checks are unavailable right now; try again shortly', {}, 503);
    }
  }

  private async send<T>(name: string, body: unknown): Promise<T> {
    const url = this.identityUrl();
    if (!url) throw new Error('identity is not reachable');
    const res = await fetch(url.replace(/\/graphql$/, `/internal/${name}`), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [CONTEXT_HEADER]: await signContextToken(systemContext(`gateway-${name}`), 'identity', this.contextKey),
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) {
      log.error({ status: res.status, call: name }, 'identity call failed');
      throw new Error(`identity call ${name} failed`);
    }
    return ((await res.json()) as { result: T }).result;
  }
}
