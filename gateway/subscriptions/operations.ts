import {
  Kind,
  TypeInfo,
  getNamedType,
  print,
  validate,
  valueFromASTUntyped,
  visit,
  visitWithTypeInfo,
  type GraphQLSchema,
  type TypeNode,
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
  /** Its selection reaches a field that depends on the viewer (routing.ts): shared only with the same user. */
  perViewer?: boolean;
}

export const ENTITY_ID_VARIABLE = 'nexusEntityId';

/**
 * A client's subscription as the gateway shares it: the chosen operation alone, unnamed, without the
 * alias of its root field (put back for each subscriber), with the fragments it uses and the variables it
 * declares. Subscriptions that differ only in those share one upstream subscription and one execution.
 */
export interface CanonicalSubscription {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  /** The name the client gave the root field (its alias, else the field's name): its results are keyed by it. */
  responseKey: string;
  /** The declared variables' values, keys sorted. */
  variables: Record<string, unknown>;
  /** Printed document: equal for operations that get the same results. */
  key: string;
  /** The root field and its argument values (`roomEvents({"roomId":"…"})`): the events, whatever is selected of them. */
  stream: string;
}

/** JSON with object keys sorted, so that equal values print alike. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function usedFragments(
  operation: OperationDefinitionNode,
  fragments: Map<string, FragmentDefinitionNode>,
): FragmentDefinitionNode[] {
  const used = new Map<string, FragmentDefinitionNode>();
  const pending: (OperationDefinitionNode | FragmentDefinitionNode)[] = [operation];
  while (pending.length) {
    visit(pending.pop()!, {
      FragmentSpread(spread) {
        const name = spread.name.value;
        const fragment = fragments.get(name);
        if (fragment && !used.has(name)) {
          used.set(name, fragment);
          pending.push(fragment);
        }
      },
    });
  }
  return [...used.values()].sort((a, b) => (a.name.value < b.name.value ? -1 : 1));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An ID written as a UUID in any letter case names the same thing: compared in lower case. */
function canonicalIds(value: unknown): unknown {
  if (typeof value === 'string') return UUID.test(value) ? value.toLowerCase() : value;
  return Array.isArray(value) ? value.map(canonicalIds) : value;
}

function namedTypeOf(type: TypeNode): string {
  return type.kind === Kind.NAMED_TYPE ? type.name.value : namedTypeOf(type.type);
}

/** Throws a message meant for the client when the operation is not one root field. */
export function canonicalSubscription(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  schema?: GraphQLSchema,
): CanonicalSubscription {
  const root = operation.selectionSet.selections[0];
  if (operation.selectionSet.selections.length !== 1 || root.kind !== Kind.FIELD) {
    throw new Error('A subscription must select exactly one root field, without fragments');
  }
  if (root.directives?.some((d) => d.name.value === 'skip' || d.name.value === 'include')) {
    throw new Error('The root field of a subscription cannot take @skip or @include');
  }
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  // Variables are named by their place ($v0, $v1…), their values taken only for those declared.
  const names = new Map<string, string>();
  const values: Record<string, unknown> = {};
  for (const [i, d] of (operation.variableDefinitions ?? []).entries()) {
    const name = `v${i}`;
    names.set(d.variable.name.value, name);
    const value = variables[d.variable.name.value];
    if (value !== undefined) values[name] = namedTypeOf(d.type) === 'ID' ? canonicalIds(value) : value;
  }
  const renamed = <T extends OperationDefinitionNode | FragmentDefinitionNode>(node: T): T =>
    visit(node, { Variable: (v) => ({ ...v, name: { ...v.name, value: names.get(v.name.value) ?? v.name.value } }) });
  let canonical = renamed<OperationDefinitionNode>({
    ...operation,
    name: undefined,
    selectionSet: { ...operation.selectionSet, selections: [{ ...root, alias: undefined }] },
  });
  if (schema) {
    // IDs written inline, as for variables.
    const typeInfo = new TypeInfo(schema);
    canonical = visit(
      canonical,
      visitWithTypeInfo(typeInfo, {
        StringValue(node) {
          const type = typeInfo.getInputType();
          return type && getNamedType(type).name === 'ID' && UUID.test(node.value)
            ? { ...node, value: node.value.toLowerCase() }
            : undefined;
        },
      }),
    );
  }
  const doc: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: [canonical, ...usedFragments(operation, fragments).map(renamed)],
  };
  const field = canonical.selectionSet.selections[0] as FieldNode;
  const args = Object.fromEntries(
    (field.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value, values)]),
  );
  return {
    document: doc,
    operation: canonical,
    responseKey: root.alias?.value ?? root.name.value,
    variables: JSON.parse(stableJson(values)) as Record<string, unknown>,
    key: print(doc),
    stream: `${root.name.value}(${stableJson(args)})`,
  };
}

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
  const fragments = document.definitions.filter(
    (d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION,
  );
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
