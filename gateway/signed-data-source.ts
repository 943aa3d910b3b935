import type { KeyObject } from 'node:crypto';
import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { GraphQLError, Kind, parse } from 'graphql';
import {
  ADMISSION_REQUIRED,
  EFFECTS_EXTENSION,
  admissionRequestSchema,
  effectsSchema,
  type MeteredMetric,
} from '../kernel/admission';
import { verifyAccessToken } from '../kernel/access-token';
import { CONTEXT_HEADER, ISSUED_SESSION_EXTENSION, signContextToken } from '../kernel/context-token';
import { logger } from '../kernel/log';
import { serviceUnavailable } from '../kernel/errors';
import { contextFromClaims, type AuthSettings } from './authenticate';
import { admissionFor, type TenantAdmission } from './admission';
import type { GatewayContext } from './gateway-context';
import { mutationEffects } from './usage';
import { isUnreachable, UNAVAILABLE_STATUSES } from './unavailable';

const log = logger('gateway.datasource');

/**
 * Sends every subgraph request with a context token signed for that subgraph only, carrying the operation's
 * tenant admissions (with what earlier fetches already used of them). A subgraph that learns it acts for a
 * tenant the operation was not admitted for (an invitation's tenant) asks for it (ADMISSION_REQUIRED, before
 * any effect): the tenant is admitted and the fetch sent once more. What a subgraph reports creating is noted
 * for the operation's usage. When identity signs
 * someone in mid-operation, the freshly issued access token is verified like any bearer token and the
 * rest of the operation's fetches run as that user (so `register { tenant { name } }` resolves).
 *
 * A subgraph that cannot be reached (refused, reset, no answer within `timeoutMs`, or answering
 * 502/503/504) becomes a SERVICE_UNAVAILABLE error. It makes the whole response 503 with Retry-After —
 * unless a root field of the mutation took effect (plugins/mutation-outcome). Any other failure is an internal
 * error. No subgraph address ever reaches the client.
 */
export class SignedDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  constructor(
    private readonly subgraph: string,
    url: string,
    private readonly contextKey: KeyObject,
    private readonly ttlSeconds: number,
    private readonly auth: AuthSettings,
    private readonly admission: TenantAdmission,
    timeoutMs: number,
  ) {
    super({ url, fetcher: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(timeoutMs) }) });
  }

  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<void> {
    // Every operation runs as its caller; nothing is sent without one (no silent full-rights fallback).
    const ctx = context?.ctx;
    if (!ctx) throw new Error(`No request context for a call to ${this.subgraph}`);
    const admissions = [...(context?.grants?.values() ?? [])].map((g) =>
      admissionFor(g, context?.effects?.get(g.tenantId)),
    );
    const token = await signContextToken(
      admissions.length ? { ...ctx, admissions } : ctx,
      this.subgraph,
      this.contextKey,
      this.ttlSeconds,
    );
    request.http?.headers.set(CONTEXT_HEADER, token);
    request.http?.headers.set('x-request-id', ctx.requestId);
  }

  override async process(options: GraphQLDataSourceProcessOptions<GatewayContext>) {
    const response = await super.process(options);
    // Only incoming operations carry a context (health checks and schema loading do not).
    if (!('incomingRequestContext' in options)) return response;
    const asked = response.errors?.find((e) => e.extensions?.code === ADMISSION_REQUIRED);
    if (!asked) return response;
    const { context, request } = options;
    const parsed = admissionRequestSchema.safeParse(asked.extensions);
    // Sent again, the fetch runs every field in it again: only a fetch of that one field may be.
    const single =
      parsed.success && !context.grants?.has(parsed.data.tenantId) && rootSelections(request.query ?? '') === 1;
    if (!parsed.success || !single) {
      log.error(
        { subgraph: this.subgraph, asked: asked.extensions },
        'a subgraph asked for an admission that cannot be given',
      );
      throw new Error('Tenant admission could not be completed');
    }
    const grant = await this.admission.grant(parsed.data.tenantId, 'mutation', [parsed.data.actsAs], {
      metered: true,
    });
    // Another fetch of this operation was admitted for the tenant meanwhile: keep its grant, give this one back.
    if (context.grants?.has(grant.tenantId)) this.admission.settle(grant);
    else (context.grants ??= new Map()).set(grant.tenantId, grant);
    return super.process(options);
  }

  /**
   * A subgraph answers 400 when it refuses a value its own scalars parse (e.g. an `Amount` that is not digits), which
   * the gateway's schema cannot check: the client gets that refusal as BAD_USER_INPUT, not as an internal error.
   */
  override async errorFromResponse(response: Parameters<RemoteGraphQLDataSource['errorFromResponse']>[0]) {
    if (response.status === 400) {
      const body = (await this.parseBody(response.clone()).catch(() => null)) as {
        errors?: { message?: unknown; extensions?: { code?: unknown } }[];
      } | null;
      const refused = body?.errors?.find(
        (e) =>
          typeof e.message === 'string' &&
          (e.extensions?.code === 'BAD_USER_INPUT' || e.extensions?.code === 'GRAPHQL_VALIDATION_FAILED'),
      );
      if (refused) return new GraphQLError(refused.message as string, { extensions: { code: 'BAD_USER_INPUT' } });
    }
    return super.errorFromResponse(response);
  }

  override didEncounterError(error: Error, _request: unknown, response?: { status: number }): void {
    if (response ? UNAVAILABLE_STATUSES.has(response.status) : isUnreachable(error)) {
      log.warn({ err: error, subgraph: this.subgraph, status: response?.status }, 'subgraph unavailable');
      throw serviceUnavailable(); // 503 for the whole response, unless a mutation took effect (plugins/mutation-outcome)
    }
    if (!response) {
      // Not an outage (a request the fetch refused to make, a bug): internal, and without the address.
      log.error({ err: error, subgraph: this.subgraph }, 'subgraph call failed');
      throw new Error('Subgraph call failed');
    }
    // Any other refusal is passed on as it is, without the URL it came from.
    const details =
      error instanceof GraphQLError ? (error.extensions.response as { url?: unknown } | undefined) : undefined;
    if (details) delete details.url;
    throw error;
  }

  override async didReceiveResponse({
    request,
    response,
    context,
  }: Parameters<NonNullable<RemoteGraphQLDataSource<GatewayContext>['didReceiveResponse']>>[0]) {
    const reported = response.extensions?.[EFFECTS_EXTENSION];
    if (reported !== undefined) {
      delete response.extensions![EFFECTS_EXTENSION];
      const effects = effectsSchema.safeParse(reported);
      if (!effects.success)
        log.error({ subgraph: this.subgraph }, 'a subgraph reported effects the gateway cannot read');
      else if (context) {
        context.effects ??= new Map();
        for (const [tenantId, created] of Object.entries(effects.data)) {
          const sum = context.effects.get(tenantId) ?? {};
          for (const [metric, n] of Object.entries(created) as [MeteredMetric, number][])
            sum[metric] = (sum[metric] ?? 0) + n;
          context.effects.set(tenantId, sum);
        }
      }
    }
    if (
      context &&
      request.query &&
      !context.mutated &&
      mutationEffects(request.query, response, request.variables).length > 0
    )
      context.mutated = true;
    const issued = response.extensions?.[ISSUED_SESSION_EXTENSION];
    if (issued !== undefined) {
      delete response.extensions![ISSUED_SESSION_EXTENSION];
      if (this.subgraph === 'identity' && typeof issued === 'string' && context?.ctx) {
        try {
          const claims = await verifyAccessToken(issued, this.auth.accessPublicKey, {
            ...this.auth,
            kid: this.auth.accessKid,
          });
          context.ctx = { ...contextFromClaims(context.ctx.requestId, claims), client: context.ctx.client };
        } catch (err) {
          log.error({ err }, 'identity issued an access token the gateway cannot verify');
        }
      }
    }
    return response;
  }
}

/** How many root selections a subgraph fetch has (0 when it cannot be read). */
function rootSelections(query: string): number {
  try {
    const operation = parse(query, { noLocation: true }).definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
    return operation?.kind === Kind.OPERATION_DEFINITION ? operation.selectionSet.selections.length : 0;
  } catch {
    return 0;
  }
}
