import type { Server } from 'node:http';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import type { GraphQLSchema } from 'graphql';
import { makeFormatError } from '../kernel/errors';
import { logger } from '../kernel/log';
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

const log = logger('gateway');

/** What the gateway reads from the supergraph it runs: the API schema, subscription routes, the subgraphs' policies. */
export class LoadedSupergraph {
  apiSchema: GraphQLSchema | undefined;
  routes = new Map<string, SubscriptionRoute>();
  /** Read at once from the configured supergraph: a declaration the gateway does not know stops it before it starts. */
  policies: FieldPolicies;

  constructor(supergraphSdl: string) {
    this.policies = policiesFromSupergraph(supergraphSdl);
  }

  /**
   * Follows the supergraph the gateway runs. An update whose routes or policies cannot be read leaves everything
   * as it was (the API schema, routes and policies always come from the same supergraph) and is logged: the
   * gateway only logs what this throws.
   */
  watch(gateway: Pick<ApolloGateway, 'onSchemaLoadOrUpdate'>): void {
    gateway.onSchemaLoadOrUpdate(({ apiSchema, coreSupergraphSdl }) => {
      let routes: Map<string, SubscriptionRoute>;
      let policies: FieldPolicies;
      try {
        routes = subscriptionRoutes(coreSupergraphSdl, apiSchema);
        policies = policiesFromSupergraph(coreSupergraphSdl);
      } catch (err) {
        log.error({ err }, 'supergraph update refused: the gateway keeps the API schema, routes and policies it had');
        return;
      }
      this.apiSchema = apiSchema;
      this.routes = routes;
      this.policies = policies;
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
