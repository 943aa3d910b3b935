import type { KeyObject } from 'node:crypto';
import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { GraphQLError } from 'graphql';
import { verifyAccessToken } from '../kernel/access-token';
import { CONTEXT_HEADER, ISSUED_SESSION_EXTENSION, signContextToken } from '../kernel/context-token';
import type { RequestContext } from '../kernel/context';
import type { TenantStatus } from './tenant-status';
import { logger } from '../kernel/log';
import { serviceUnavailable } from '../kernel/errors';
import { contextFromClaims, type AuthSettings } from './authenticate';
import { meteredEffects } from './usage';

export interface GatewayContext {
  ctx: RequestContext;
  /** The caller's tenant status when the request started (gateway/admission.ts decides what may run). */
  tenantStatus?: TenantStatus;
  /** Metered root fields the subgraphs ran without error so far (gateway/usage.ts `meteredEffects`). */
  effects?: string[];
}

const log = logger('gateway.datasource');

/** What a subgraph (or a balancer in front of it) answers when it cannot serve now. */
const UNAVAILABLE_STATUSES = new Set([502, 503, 504]);

/**
 * Sends every subgraph request with a context token signed for that subgraph only. When identity signs
 * someone in mid-operation, the freshly issued access token is verified like any bearer token and the
 * rest of the operation's fetches run as that user (so `register { tenant { name } }` resolves).
 * A subgraph that cannot be reached (refused, reset, timed out, or answering 502/503/504) becomes a
 * SERVICE_UNAVAILABLE error, which makes the whole response 503 with Retry-After; no subgraph address
 * ever reaches the client.
 */
export class SignedDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  constructor(
    private readonly subgraph: string,
    url: string,
    private readonly contextKey: KeyObject,
    private readonly ttlSeconds: number,
    private readonly auth: AuthSettings,
  ) {
    super({ url, fetcher: fetch });
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
    if (!response || UNAVAILABLE_STATUSES.has(response.status)) {
      log.warn({ err: error, subgraph: this.subgraph, status: response?.status }, 'subgraph unavailable');
      throw serviceUnavailable();
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
