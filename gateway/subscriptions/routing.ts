import { Supergraph } from '@apollo/federation-internals';
import {
  Kind,
  TypeInfo,
  BREAK,
  getNamedType,
  isAbstractType,
  isObjectType,
  parse,
  visit,
  visitWithTypeInfo,
  type DirectiveNode,
  type DocumentNode,
  type GraphQLSchema,
  type ObjectTypeDefinitionNode,
  type ValueNode,
} from 'graphql';
import type { FieldPolicies } from '../policies';

/** Where each subscription field is served, and how its events are looked up, derived from the supergraph. */
export interface SubscriptionRoute {
  field: string;
  subgraph: string;
  /** Entity type the field returns, and the Query field that loads one by id (e.g. Message → message(id:)). */
  entityType: string;
  lookupField: string;
  /** The owning subgraph's own schema: a selection valid there is resolved by the subgraph alone. */
  subgraphSchema?: GraphQLSchema;
}

/**
 * Whether the document (an operation and its fragments) selects a field declared `viewer-dependent` (`Type.field`,
 * e.g. User.email: the account sees its own unconfirmed address), through any type that has it: such a subscription
 * is shared only among the same user's subscriptions, never with the rest of its audience.
 */
export function dependsOnViewer(schema: GraphQLSchema, document: DocumentNode, policies: FieldPolicies): boolean {
  const typeInfo = new TypeInfo(schema);
  let found = false;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const parent = typeInfo.getParentType();
        if (!parent) return;
        const types = isAbstractType(parent) ? schema.getPossibleTypes(parent) : [parent];
        if (types.some((t) => policies.has('viewer-dependent', `${t.name}.${node.name.value}`))) {
          found = true;
          return BREAK;
        }
      },
    }),
  );
  return found;
}

function stringArg(directive: DirectiveNode, name: string): string | undefined {
  const arg = directive.arguments?.find((a) => a.name.value === name);
  return arg ? valueText(arg.value) : undefined;
}

function valueText(value: ValueNode): string | undefined {
  return value.kind === Kind.STRING || value.kind === Kind.ENUM ? value.value : undefined;
}

/**
 * Reads `join__Graph` and the Subscription type's `@join__field`/`@join__type` directives: the owning
 * subgraph of every subscription field comes from the supergraph itself, never from a hand-kept table.
 */
export function subscriptionRoutes(supergraphSdl: string, apiSchema: GraphQLSchema): Map<string, SubscriptionRoute> {
  const doc = parse(supergraphSdl);
  const graphNames = new Map<string, string>();
  let subscriptionType: ObjectTypeDefinitionNode | undefined;
  for (const def of doc.definitions) {
    if (def.kind === Kind.ENUM_TYPE_DEFINITION && def.name.value === 'join__Graph') {
      for (const value of def.values ?? []) {
        const graph = value.directives?.find((d) => d.name.value === 'join__graph');
        const name = graph && stringArg(graph, 'name');
        if (name) graphNames.set(value.name.value, name);
      }
    }
    if (def.kind === Kind.OBJECT_TYPE_DEFINITION && def.name.value === 'Subscription') subscriptionType = def;
  }
  const routes = new Map<string, SubscriptionRoute>();
  if (!subscriptionType) return routes;
  const subgraphSchemas = new Map<string, GraphQLSchema>();
  try {
    for (const s of Supergraph.build(supergraphSdl).subgraphs().values())
      subgraphSchemas.set(s.name, s.schema.toGraphQLJSSchema());
  } catch {
    // Without them every event is resolved through the gateway, which is always correct.
  }
  const typeGraphs = (subscriptionType.directives ?? [])
    .filter((d) => d.name.value === 'join__type')
    .map((d) => stringArg(d, 'graph'));
  const queryFields = apiSchema.getQueryType()?.getFields() ?? {};
  const apiFields = apiSchema.getSubscriptionType()?.getFields() ?? {};
  for (const field of subscriptionType.fields ?? []) {
    const fieldGraphs = (field.directives ?? [])
      .filter((d) => d.name.value === 'join__field')
      .map((d) => stringArg(d, 'graph'));
    const graphs = (fieldGraphs.length ? fieldGraphs : typeGraphs).filter((g): g is string => Boolean(g));
    if (graphs.length !== 1) throw new Error(`Subscription.${field.name.value} must be served by exactly one subgraph`);
    const subgraph = graphNames.get(graphs[0]);
    if (!subgraph) throw new Error(`Unknown join graph ${graphs[0]}`);
    const apiField = apiFields[field.name.value];
    if (!apiField) continue; // @inaccessible
    const entity = getNamedType(apiField.type);
    if (!isObjectType(entity) || !entity.getFields().id) {
      throw new Error(`Subscription.${field.name.value} must return an entity with an id`);
    }
    const lookupField = entity.name.charAt(0).toLowerCase() + entity.name.slice(1);
    const lookup = queryFields[lookupField];
    if (!lookup || getNamedType(lookup.type) !== entity || !lookup.args.some((a) => a.name === 'id')) {
      throw new Error(
        `Subscription.${field.name.value} needs a lookup field Query.${lookupField}(id: ID!): ${entity.name}`,
      );
    }
    routes.set(field.name.value, {
      field: field.name.value,
      subgraph,
      entityType: entity.name,
      lookupField,
      subgraphSchema: subgraphSchemas.get(subgraph),
    });
  }
  return routes;
}
