import { buildSubgraphSchema, type GraphQLResolverMap } from '@apollo/subgraph';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { parse, type GraphQLSchema } from 'graphql';
import { buildSchema, createResolversMap, type BuildSchemaOptions } from 'type-graphql';
import { authChecker, requireAuthentication } from '../auth';
import { refuseUnstorableArguments } from '../text';

const FEDERATION_LINK = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable", "@external", "@requires", "@provides", "@inaccessible", "@tag"])`;

export type ReferenceResolvers = Record<string, { __resolveReference: (ref: { id: string }) => unknown }>;

/**
 * The one way a subgraph builds its schema: type-graphql classes → SDL with directives → Apollo subgraph
 * schema (adds _service/_entities), with the resolvers of both merged.
 */
export async function buildFederatedSchema(
  options: Omit<BuildSchemaOptions, 'skipCheck' | 'authChecker'>,
  referenceResolvers: ReferenceResolvers = {},
): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    ...options,
    skipCheck: true,
    authChecker,
    authMode: 'error',
    globalMiddlewares: [requireAuthentication, refuseUnstorableArguments, ...(options.globalMiddlewares ?? [])],
    validate: false,
    // Subscriptions here declare their own `subscribe` (on kernel/pubsub.ts); topic-based ones are not used.
    pubSub: {
      publish: () => {
        throw new Error('Use kernel/pubsub.ts');
      },
      subscribe: () => {
        throw new Error('Subscriptions must declare `subscribe`');
      },
    },
  });
  const typeDefs = parse(`${FEDERATION_LINK}\n${printSchemaWithDirectives(schema)}`);
  const resolvers = createResolversMap(schema) as GraphQLResolverMap<unknown>;
  for (const [typeName, ref] of Object.entries(referenceResolvers)) {
    resolvers[typeName] = { ...((resolvers[typeName] as object) ?? {}), ...ref } as never;
  }
  return buildSubgraphSchema([{ typeDefs, resolvers }]);
}
