import type { KeyObject } from 'node:crypto';
import { CONTEXT_HEADER, signContextToken } from '../kernel/context-token';
import { systemContext } from '../kernel/context';
import { serviceUnavailable } from '../kernel/errors';
import { logger } from '../kernel/log';
import {
  parseInternalResponse,
  type InternalCallOf,
  type InternalRequest,
  type InternalResponse,
  type InternalSubgraph,
} from '../kernel/contracts/internal-calls';
import { isUnreachable, UNAVAILABLE_STATUSES } from './unavailable';

const log = logger('gateway.internal');

/** An internal call answered with something the gateway did not expect: a bug, not an outage. */
export class InternalCallError extends Error {
  constructor(
    message: string,
    /** The subgraph's HTTP status when it answered with an error (a 400: the request will never be accepted). */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'InternalCallError';
  }
}

/**
 * The gateway's calls to a subgraph outside GraphQL (POST /internal/<name>), signed as the gateway itself;
 * typed by call name (kernel/contracts/internal-calls.ts), each answer checked against its call's schema.
 */
export class InternalClient<S extends InternalSubgraph = InternalSubgraph> {
  constructor(
    private readonly subgraph: S,
    private readonly subgraphUrl: () => string | undefined,
    private readonly contextKey: KeyObject,
  ) {}

  /**
   * Fails closed, never lets a request through unchecked. A subgraph that cannot be reached (refused,
   * reset, timed out, or answering 502/503/504) is SERVICE_UNAVAILABLE (503 with Retry-After); any other
   * failure (a 4xx or 500 answer, a body that is not the expected JSON) is an internal error, logged as such.
   */
  async call<K extends InternalCallOf<S>>(name: K, body: InternalRequest<K>): Promise<InternalResponse<K>> {
    const where = { subgraph: this.subgraph, call: name };
    const url = this.subgraphUrl();
    if (!url) {
      log.error(where, 'subgraph address unknown');
      throw serviceUnavailable('Access checks are unavailable right now; try again shortly');
    }
    let res: Response;
    try {
      res = await fetch(url.replace(/\/graphql$/, `/internal/${name}`), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [CONTEXT_HEADER]: await signContextToken(systemContext(`gateway-${name}`), this.subgraph, this.contextKey),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5_000),
      });
    } catch (err) {
      if (!isUnreachable(err)) {
        log.error({ err, ...where }, 'internal call failed');
        throw new InternalCallError(`${this.subgraph} call ${name} failed`);
      }
      log.error({ err, ...where }, 'subgraph unreachable');
      throw serviceUnavailable('Access checks are unavailable right now; try again shortly');
    }
    if (UNAVAILABLE_STATUSES.has(res.status)) {
      await res.body?.cancel().catch(() => undefined);
      log.error({ status: res.status, ...where }, 'subgraph unavailable');
      throw serviceUnavailable('Access checks are unavailable right now; try again shortly');
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      log.error({ status: res.status, ...where }, 'internal call refused');
      throw new InternalCallError(`${this.subgraph} call ${name} failed (HTTP ${res.status})`, res.status);
    }
    let answer: unknown;
    try {
      answer = await res.json();
    } catch (err) {
      // The connection was lost while the answer came: unavailable too.
      if (isUnreachable(err)) {
        log.error({ err, ...where }, 'subgraph unreachable');
        throw serviceUnavailable('Access checks are unavailable right now; try again shortly');
      }
    }
    if (!answer || typeof answer !== 'object' || !('result' in answer)) {
      log.error({ status: res.status, ...where }, 'internal call answered with something other than its JSON result');
      throw new InternalCallError(`${this.subgraph} call ${name} answered with something else`);
    }
    const checked = parseInternalResponse(name, answer.result);
    if (!checked.ok) {
      log.error({ ...where, issues: checked.issues }, 'internal call answered with something other than its contract');
      throw new InternalCallError(`${this.subgraph} call ${name} answered with something else`);
    }
    return checked.result;
  }
}
