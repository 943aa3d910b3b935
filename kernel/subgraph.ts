import type { GraphQLSchema } from 'graphql';
import type { DataSource, EntityManager } from 'typeorm';
import type { BuildSchemaOptions, ContainerType, NonEmptyArray } from 'type-graphql';
import type { Config } from './config';
import type { PlatformKeys } from './keys';
import type { SubgraphName } from './services';
import type { EventBus, EventConsumer, OutboxRelay } from './events';
import type { AnyInternalHandlers } from './contracts/internal-calls';
import type { PubSub } from './pubsub';
import type { JobHandlers } from './contracts/jobs';
import type { HookHandler } from './http/hooks';
import { buildFederatedSchema, type ReferenceResolvers } from './federation/build-federated-schema';

/** What a subgraph's resolvers and services are given: never another subgraph. */
export interface SubgraphDeps {
  name: SubgraphName;
  ds: DataSource;
  config: Config;
  keys: PlatformKeys;
  outbox: OutboxRelay;
  bus: EventBus;
  pubsub: PubSub;
}

/** A subgraph describes itself; the kernel runs it. */
export interface SubgraphDefinition {
  name: SubgraphName;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: Function[];
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: Function[];
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  resolvers: NonEmptyArray<Function>;
  /** Middlewares run around every field of this subgraph, after the kernel's (classes get the deps). */
  middlewares?: NonNullable<BuildSchemaOptions['globalMiddlewares']>;
  referenceResolvers?: (deps: SubgraphDeps) => ReferenceResolvers;
  consumers?: (deps: SubgraphDeps) => EventConsumer[];
  /**
   * Service-to-service calls the gateway makes outside GraphQL (POST /internal/<name>, JSON in and out),
   * accepted only with a context token the gateway signed for its own (system) identity: one handler for
   * each call the subgraph owns in kernel/contracts/internal-calls.ts, given the request its schema accepted.
   */
  internal?: (deps: SubgraphDeps) => AnyInternalHandlers;
  /** Public endpoints served through the gateway at POST /hooks/<subgraph>/<path> (see kernel/http/hooks.ts). */
  hooks?: (deps: SubgraphDeps) => HookHandler;
  /** Durable jobs by name, declared in kernel/contracts/jobs.ts (scheduled with `scheduleJob`; the schema needs `jobTablesSql`). */
  jobs?: (deps: SubgraphDeps) => JobHandlers;
  /**
   * Runs before the kernel deletes a purged tenant's rows from this schema, in the same transaction (e.g. to
   * record what is removed, or to remove rows only a narrow function may delete).
   */
  purge?: (deps: SubgraphDeps) => (em: EntityManager, tenantId: string) => Promise<void>;
  /** Background work the subgraph runs while it is up (e.g. a mail worker); stopped on shutdown. */
  background?: (deps: SubgraphDeps) => { stop(): Promise<void> };
}

/** Resolver classes take the subgraph's deps in their constructor; one instance each per schema. */
function containerFor(deps: SubgraphDeps): ContainerType {
  const instances = new Map<unknown, unknown>();
  return {
    get(someClass: new (deps: SubgraphDeps) => unknown) {
      if (!instances.has(someClass)) instances.set(someClass, new someClass(deps));
      return instances.get(someClass);
    },
  } as ContainerType;
}

export async function buildSubgraphSchemaFor(def: SubgraphDefinition, deps: SubgraphDeps): Promise<GraphQLSchema> {
  return buildFederatedSchema(
    { resolvers: def.resolvers, container: containerFor(deps), globalMiddlewares: def.middlewares },
    def.referenceResolvers?.(deps) ?? {},
  );
}
