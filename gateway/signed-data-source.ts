import type { KeyObject } from 'node:crypto';
import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { verifyAccessToken } from '../kernel/access-token';
import { CONTEXT_HEADER, ISSUED_SESSION_EXTENSION, signContextToken } from '../kernel/context-token';
import type { RequestContext } from '../kernel/context';
import type { TenantStatus } from './tenant-status';
import { logger } from '../kernel/log';
import { KernelErrorCode, serviceUnavailable } from '../kernel/errors';
import { contextFromClaims, type AuthSettings } from './authenticate';
import { meteredEffects, mutationEffects } from './usage';
import { isUnreachable, UNAVAILABLE_STATUSES } from './unavailable';

export interface GatewayContext {
  ctx: RequestContext;
  /** The caller's tenant status when the request started (gateway/admission.ts decides what may run). */
  tenantStatus?: TenantStatus;
  /** Metered root fields the subgraphs ran without error so far (gateway/usage.ts `meteredEffects`). */
  effects?: string[];
  /** A mutation root field took effect (see mutationOutcomePlugin). */
  mutated?: boolean;
}

const log = logger('gateway.datasource');

/**
 * Sends every subgraph request with a context token signed for that subgraph only. When identity signs
 * someone in mid-operation, the freshly issued access token is verified like any bearer token and the
 * rest of the operation's fetches run as that user (so `register { tenant { name } }` resolves).
 *
 * A subgraph that cannot be reached (refused, reset, no answer within `timeoutMs`, or answering
 * 502/503/504) becomes a SERVICE_UNAVAILABLE error. It makes the whole response 503 with Retry-After —
 * unless a root field of the mutation took effect (mutationOutcomePlugin). Any other failure is an internal
 * error. No subgraph address ever reaches the client.
 */
export class SignedDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  constructor(
    private readonly subgraph: string,
    url: string,
    private readonly contextKey: KeyObject,
    private readonly ttlSeconds: number,
    private readonly auth: AuthSettings,
    timeoutMs: number,
  ) {
    super({ url, fetcher: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(timeoutMs) }) });
  }

  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<void> {
    // Every operation runs as its caller; nothing is sent without one (no silent full-rights fallback).
    const ctx = context?.ctx;
    if (!ctx) throw new Error(`No request context for a call to ${this.subgraph}`);
    const token = await signContextToken(ctx, this.subgraph, this.contextKey, this.ttlSeconds);
    request.http?.headers.set(CONTEXT_HEADER, token);
    request.http?.headers.set('x-request-id', ctx.requestId);
  }

  override didEncounterError(error: Error, _request: unknown, response?: { status: number }): void {
    if (response ? UNAVAILABLE_STATUSES.has(response.status) : isUnreachable(error)) {
      log.warn({ err: error, subgraph: this.subgraph, status: response?.status }, 'subgraph unavailable');
      throw serviceUnavailable(); // 503 for the whole response, unless a mutation took effect (mutationOutcomePlugin)
    }
    if (!response) {
      // Not an outage (a request the fetch refused to make, a bug): internal, and without the address.
      log.error({ err: error, subgraph: this.subgraph }, 'subgraph call failed');
      throw new Error('Subgraph call failed');
    }
    // Any other refusal is passed on as it is, without the URL it came from.
    const details = error instanceof GraphQLError ? (error.extensions.response as { url?: unknown } | undefined) : undefined;
    if (details) delete details.url;
    throw error;
  }

  override async didReceiveResponse({
    response,
    request,
    context,
  }: Parameters<NonNullable<RemoteGraphQLDataSource<GatewayContext>['didReceiveResponse']>>[0]) {
    if (context && request.query) {
      const effects = meteredEffects(request.query, response);
      if (effects.length) context.effects = [...(context.effects ?? []), ...effects];
      if (!context.mutated && mutationEffects(request.query, response).length > 0) context.mutated = true;
    }
    const issued = response.extensions?.[ISSUED_SESSION_EXTENSION];
    if (issued !== undefined) {
      delete response.extensions![ISSUED_SESSION_EXTENSION];
      if (this.subgraph === 'identity' && typeof issued === 'string' && context?.ctx) {
        try {
          const claims = await verifyAccessToken(issued, this.auth.accessPublicKey, { ...this.auth, kid: this.auth.accessKid });
          context.ctx = { ...contextFromClaims(context.ctx.requestId, claims), client: context.ctx.client };
        } catch (err) {
          log.error({ err }, 'identity issued an access token the gateway cannot verify');
        }
      }
    }
    return response;
  }
}

/**
 * A mutation is answered "try again" (503, Retry-After) only while none of its root fields took effect:
 * the gateway runs a mutation's fetches one after another and goes on after one failed, so once a field
 * took effect — before or after the failure — repeating the operation would repeat it. Then the answer is
 * 200 without Retry-After, SERVICE_UNAVAILABLE staying on the fields that failed.
 */
export const mutationOutcomePlugin: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ contextValue, response }) {
        if (!contextValue.mutated || response.http.status !== 503) return;
        response.http.status = 200;
        response.http.headers.delete('retry-after');
        if (response.body.kind !== 'single') return;
        response.body.singleResult.errors = response.body.singleResult.errors?.map((e) =>
          e.extensions?.code === KernelErrorCode.SERVICE_UNAVAILABLE
            ? { ...e, message: 'A service this field needs is unavailable; other fields of this mutation took effect, so do not repeat the whole operation' }
            : e,
        );
      },
    };
  },
};
