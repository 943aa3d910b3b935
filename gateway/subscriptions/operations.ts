import {
  Kind,
  print,
  validate,
  visit,
  type GraphQLSchema,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type VariableDefinitionNode,
} from 'graphql';

/** A client's subscription split into what the owning subgraph streams and what the gateway resolves per event. */
export interface SplitSubscription {
  rootField: string;
  responseKey: string;
  /** `subscription { field(args) { __typename id } }`: only the entity key travels from the subgraph. */
  upstream: string;
  /** `query { responseKey: lookup(id: $nexusEntityId) { …client selection… } }` plus the client's fragments. */
  eventQuery: string;
  /**
   * The client's own operation, when the owning subgraph can resolve all of it (it validates against that
   * subgraph's schema): then events come back complete from the subgraph and no lookup runs per event.
   */
  direct: string | null;
}

export const ENTITY_ID_VARIABLE = 'nexusEntityId';

function usedVariables(nodes: readonly (SelectionSetNode | FieldNode | FragmentDefinitionNode)[]): Set<string> {
  const used = new Set<string>();
  for (const node of nodes) visit(node, { Variable: (v) => void used.add(v.name.value) });
  return used;
}

function keep(defs: readonly VariableDefinitionNode[] | undefined, used: Set<string>): VariableDefinitionNode[] {
  return (defs ?? []).filter((d) => used.has(d.variable.name.value));
}

/** Throws a message meant for the client when the operation cannot be routed. */
export function splitSubscription(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  lookupField: string,
  subgraphSchema?: GraphQLSchema,
): SplitSubscription {
  const selections = operation.selectionSet.selections;
  const root = selections[0];
  if (selections.length !== 1 || root.kind !== Kind.FIELD) {
    throw new Error('A subscription must select exactly one root field, without fragments');
  }
  const fragments = document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION);
  const keySelection: SelectionSetNode = {
    kind: Kind.SELECTION_SET,
    selections: ['__typename', 'id'].map((name) => ({ kind: Kind.FIELD, name: { kind: Kind.NAME, value: name } })),
  };
  const upstreamField: FieldNode = { ...root, alias: undefined, directives: [], selectionSet: keySelection };
  const upstream: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: [
      {
        kind: Kind.OPERATION_DEFINITION,
        operation: 'subscription' as OperationDefinitionNode['operation'],
        name: { kind: Kind.NAME, value: 'NexusUpstream' },
        variableDefinitions: keep(operation.variableDefinitions, usedVariables([upstreamField])),
        selectionSet: { kind: Kind.SELECTION_SET, selections: [upstreamField] },
      },
    ],
  };
  const responseKey = root.alias?.value ?? root.name.value;
  const lookup: FieldNode = {
    kind: Kind.FIELD,
    alias: { kind: Kind.NAME, value: responseKey },
    name: { kind: Kind.NAME, value: lookupField },
    arguments: [
      {
        kind: Kind.ARGUMENT,
        name: { kind: Kind.NAME, value: 'id' },
        value: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: ENTITY_ID_VARIABLE } },
      },
    ],
    directives: root.directives,
    selectionSet: root.selectionSet,
  };
  const used = usedVariables([lookup, ...fragments]);
  const idVariable: VariableDefinitionNode = {
    kind: Kind.VARIABLE_DEFINITION,
    variable: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: ENTITY_ID_VARIABLE } },
    type: { kind: Kind.NON_NULL_TYPE, type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: 'ID' } } },
  };
  const eventQuery: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: [
      {
        kind: Kind.OPERATION_DEFINITION,
        operation: 'query' as OperationDefinitionNode['operation'],
        name: { kind: Kind.NAME, value: 'NexusSubscriptionEvent' },
        variableDefinitions: [...keep(operation.variableDefinitions, used), idVariable],
        selectionSet: { kind: Kind.SELECTION_SET, selections: [lookup] },
      },
      ...fragments,
    ],
  };
  let direct: string | null = null;
  if (subgraphSchema) {
    const own: DocumentNode = { kind: Kind.DOCUMENT, definitions: [operation, ...fragments] };
    if (validate(subgraphSchema, own).length === 0) direct = print(own);
  }
  return { rootField: root.name.value, responseKey, upstream: print(upstream), eventQuery: print(eventQuery), direct };
}
