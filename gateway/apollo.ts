import type { Server } from 'node:http';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import type { GraphQLSchema } from 'graphql';
import { makeFormatError } from '../kernel/errors';
import type { TenantAdmission } from './admission';
import type { GatewayOptions } from './gateway';
import type { GatewayContext } from './gateway-context';
import { accessLogPlugin } from './plugins/access-log';
import { admissionPlugin } from './plugins/admission';
import { limitsPlugin } from './plugins/limits';
import { mutationOutcomePlugin } from './plugins/mutation-outcome';
import { textInputPlugin } from './plugins/text-input';
import { FieldPolicies, policiesFromSupergraph } from './policies';
import { SignedDataSource } from './signed-data-source';
import { subscriptionRoutes, type SubscriptionRoute } from './subscriptions/routing';

/** What the gateway reads from the supergraph it runs: the API schema, subscription routes, the subgraphs' policies. */
export class LoadedSupergraph {
  apiSchema: GraphQLSchema | undefined;
  routes = new Map<string, SubscriptionRoute>();
  /** Read at once from the configured supergraph: a declaration the gateway does not know stops it before it starts. */
  policies: FieldPolicies;

  constructor(supergraphSdl: string) {
    this.policies = policiesFromSupergraph(supergraphSdl);
  }

  watch(gateway: ApolloGateway): void {
    gateway.onSchemaLoadOrUpdate(({ apiSchema, coreSupergraphSdl }) => {
      this.apiSchema = apiSchema;
      this.routes = subscriptionRoutes(coreSupergraphSdl, apiSchema);
      this.policies = policiesFromSupergraph(coreSupergraphSdl);
    });
  }
}

/** Plans federated queries over the supergraph; every subgraph fetch signed for its subgraph (SignedDataSource). */
export function createApolloGateway(
  options: GatewayOptions,
  subgraphUrls: Map<string, string>,
  admission: TenantAdmission,
): ApolloGateway {
  return new ApolloGateway({
    supergraphSdl: options.supergraphSdl,
    buildService: ({ name, url }) => {
      const target = options.subgraphUrls[name] ?? url!;
      subgraphUrls.set(name, target);
      return new SignedDataSource(
        name,
        target,
        options.contextPrivateKey,
        options.contextTokenTtlSeconds,
        options.auth,
        admission,
        options.subgraphTimeoutMs ?? 30_000,
      );
    },
  });
}

/**
 * Apollo Server over the gateway, with its plugins in the order they act on an operation: drain on stop; refuse
 * unstorable text, then over-limit operations, then operations their tenant is not admitted for; settle what a
 * mutation did into its HTTP status; log it.
 */
export function createApolloServer(
  gateway: ApolloGateway,
  httpServer: Server,
  options: GatewayOptions,
  admission: TenantAdmission,
): ApolloServer<GatewayContext> {
  return new ApolloServer<GatewayContext>({
    gateway,
    introspection: !options.production,
    hideSchemaDetailsFromClientErrors: options.production,
    includeStacktraceInErrorResponses: !options.production,
    allowBatchedHttpRequests: false,
    stopOnTerminationSignals: false,
    csrfPrevention: true,
    formatError: makeFormatError(options.production),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      textInputPlugin,
      limitsPlugin(options.limits),
      admissionPlugin(admission),
      mutationOutcomePlugin,
      accessLogPlugin,
    ],
  });
}
