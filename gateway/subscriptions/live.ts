import type { IncomingMessage, Server } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import type { RequestContext } from '../../kernel/context';
import { logger } from '../../kernel/log';
import type { PubSub } from '../../kernel/pubsub';
import { CONNECTION_CLOSED_TOPIC, SUBSCRIPTION_ACCESS_CHANGED_TOPIC } from '../../kernel/contracts/topics';
import type { LoadedSupergraph } from '../apollo';
import type { GatewayOptions } from '../gateway';
import type { GatewayContext } from '../gateway-context';
import type { GatewayServices } from '../gateway-services';
import { startGatewayWs } from './gateway-ws';
import { SubscriptionHub, type FederatedExecutor } from './hub';
import { UpstreamPool } from './upstream';

const log = logger('gateway');

export interface LiveSubscriptions {
  stats(): Record<string, number>;
  stop(): Promise<void>;
}

/** Runs one operation through Apollo Server as `ctx` (the WebSocket's queries and mutations, and event lookups). */
function federatedExecutor(apollo: ApolloServer<GatewayContext>): FederatedExecutor {
  return async (query, variables, ctx) => {
    const response = await apollo.executeOperation({ query, variables }, { contextValue: { ctx } });
    return response.body.kind === 'single'
      ? response.body.singleResult
      : { errors: [{ message: 'Incremental delivery is not supported' }] };
  };
}

/** The caller's context as of now (see GatewayWsOptions.revalidate). */
function revalidator(services: GatewayServices) {
  const { revocations, tenantStatus, permissions, apiKeys } = services;
  return async (authenticated: RequestContext, credential: string): Promise<RequestContext | null> => {
    if (authenticated.sessionId) await revocations.ensureCurrent();
    if (authenticated.tenantId) await tenantStatus.status(authenticated.tenantId);
    if (authenticated.authMethod !== 'api_key') return permissions.refresh(authenticated);
    const now = await apiKeys.authenticate(credential, authenticated.requestId);
    return now === 'rate_limited' ? authenticated : now;
  };
}

/** Announces a member's closed connection (presence is kept by messaging). */
function announceClosed(pubsub: PubSub): (ctx: RequestContext) => void {
  return (ctx) => {
    if (!ctx.tenantId || !ctx.userId || !ctx.connectionId) return;
    const closed = { tenantId: ctx.tenantId, userId: ctx.userId, connectionId: ctx.connectionId };
    void pubsub
      .publish(CONNECTION_CLOSED_TOPIC, closed)
      .catch((err) => log.warn({ err }, 'could not announce a closed connection'));
  };
}

/**
 * GraphQL over WebSocket on the gateway's port: the subscription hub (one upstream subscription per shared
 * stream), re-admission of live subscriptions when a tenant's access changes, and closed connections announced.
 */
export function startLiveSubscriptions(args: {
  options: GatewayOptions;
  services: GatewayServices;
  supergraph: LoadedSupergraph;
  apollo: ApolloServer<GatewayContext>;
  httpServer: Server;
  clientAddress: (req: IncomingMessage) => string | null;
  allowUpgrade: (req: IncomingMessage) => boolean;
}): LiveSubscriptions {
  const { options, services, supergraph } = args;
  const execute = federatedExecutor(args.apollo);
  const upstream = new UpstreamPool(services.subgraphUrls, options.contextPrivateKey);
  const hub = new SubscriptionHub(upstream, execute);
  const stopAccessWatch = options.pubsub.listen(SUBSCRIPTION_ACCESS_CHANGED_TOPIC, ({ tenantId, userIds }) => {
    void hub
      .accessChanged(tenantId, userIds ?? null)
      .catch((err) => log.error({ err }, 'subscription re-admission failed'));
  });
  const ws = startGatewayWs({
    httpServer: args.httpServer,
    schema: () => supergraph.apiSchema,
    routes: () => supergraph.routes,
    policies: () => supergraph.policies,
    hub,
    execute,
    guard: services.guard,
    auth: services.auth,
    limits: options.limits,
    subscriptionLimits: options.subscriptionLimits,
    production: options.production,
    clientAddress: args.clientAddress,
    maxMessageBytes: options.maxBodyBytes,
    allowUpgrade: args.allowUpgrade,
    revalidate: revalidator(services),
    onClosed: announceClosed(options.pubsub),
  });
  return {
    stats: () => ({ ...hub.stats(), ...ws.stats() }),
    async stop() {
      stopAccessWatch();
      await ws.dispose();
      await upstream.close();
    },
  };
}
