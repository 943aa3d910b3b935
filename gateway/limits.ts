import {
  GraphQLError,
  getOperationAST,
  visit,
  type DocumentNode,
  Kind,
  getNamedType,
  isListType,
  isNonNullType,
  isObjectType,
  isInterfaceType,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLOutputType,
  type GraphQLSchema,
  type GraphQLCompositeType,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

/** Query limits enforced before any subgraph is called: depth, aliases and an estimated cost. */
export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
}

const DEFAULT_LIST_SIZE = 20;
const MAX_LIST_SIZE = 100;

function limitError(code: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code, http: { status: 400 } } });
}

type Fragments = Record<string, FragmentDefinitionNode>;

function isIntrospection(node: FieldNode): boolean {
  return node.name.value.startsWith('__');
}

function depthOf(set: SelectionSetNode, fragments: Fragments, seen: Set<string>): number {
  let max = 0;
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      if (isIntrospection(sel)) continue;
      max = Math.max(max, 1 + (sel.selectionSet ? depthOf(sel.selectionSet, fragments, seen) : 0));
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      max = Math.max(max, depthOf(sel.selectionSet, fragments, seen));
    } else {
      const name = sel.name.value;
      const frag = fragments[name];
      if (!frag || seen.has(name)) continue;
      max = Math.max(max, depthOf(frag.selectionSet, fragments, new Set([...seen, name])));
    }
  }
  return max;
}

function listSize(field: FieldNode, variables: Record<string, unknown>): number {
  const arg = field.arguments?.find((a) => ['first', 'last', 'limit'].includes(a.name.value));
  const value = arg ? literal(arg.value, variables) : undefined;
  return typeof value === 'number' && value > 0 ? Math.min(value, MAX_LIST_SIZE) : DEFAULT_LIST_SIZE;
}

function literal(node: ValueNode, variables: Record<string, unknown>): unknown {
  if (node.kind === Kind.INT) return Number(node.value);
  if (node.kind === Kind.VARIABLE) return variables[node.name.value];
  return undefined;
}

function returnsList(type: GraphQLOutputType): boolean {
  const inner = isNonNullType(type) ? type.ofType : type;
  return isListType(inner);
}

function costOf(
  schema: GraphQLSchema,
  parent: GraphQLCompositeType,
  set: SelectionSetNode,
  fragments: Fragments,
  seen: Set<string>,
  variables: Record<string, unknown>,
): number {
  let total = 0;
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      if (isIntrospection(sel)) continue;
      const fields = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields() : {};
      const def = fields[sel.name.value];
      if (!def) continue;
      const child = getNamedType(def.type);
      const childCost =
        sel.selectionSet && (isObjectType(child) || isInterfaceType(child) || 'getTypes' in child)
          ? costOf(schema, child as GraphQLCompositeType, sel.selectionSet, fragments, seen, variables)
          : 0;
      total += 1 + (returnsList(def.type) ? listSize(sel, variables) : 1) * childCost;
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      const typed = sel.typeCondition ? (schema.getType(sel.typeCondition.name.value) as GraphQLCompositeType) : parent;
      total += costOf(schema, typed ?? parent, sel.selectionSet, fragments, seen, variables);
    } else {
      const name = sel.name.value;
      const frag = fragments[name];
      if (!frag || seen.has(name)) continue;
      const typed = schema.getType(frag.typeCondition.name.value) as GraphQLCompositeType;
      total += costOf(schema, typed ?? parent, frag.selectionSet, fragments, new Set([...seen, name]), variables);
    }
  }
  return total;
}

/**
 * Estimated cost of the operation: one per field, list fields multiplied by `first`/`last`/`limit` (default
 * 20, at most 100). For a subscription this is its cost per event.
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown>,
): number {
  const operation = getOperationAST(document, operationName);
  if (!operation) return 0;
  const fragments: Fragments = {};
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
  const root =
    operation.operation === 'query'
      ? schema.getQueryType()
      : operation.operation === 'mutation'
        ? schema.getMutationType()
        : schema.getSubscriptionType();
  return root ? costOf(schema, root, operation.selectionSet, fragments, new Set(), variables) : 0;
}

/** Checks one operation against the limits; returns the first violation. */
export function checkLimits(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown>,
  limits: QueryLimits,
): GraphQLError | null {
  const fragments: Fragments = {};
  let aliases = 0;
  visit(document, {
    Field(node) {
      if (node.alias) aliases++;
    },
  });
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
  if (aliases > limits.maxAliases) {
    return limitError('ALIAS_LIMIT_EXCEEDED', `Query uses ${aliases} aliases; the limit is ${limits.maxAliases}`);
  }
  const operation = getOperationAST(document, operationName);
  if (!operation) return null;
  const depth = depthOf(operation.selectionSet, fragments, new Set());
  if (depth > limits.maxDepth) {
    return limitError('DEPTH_LIMIT_EXCEEDED', `Query depth ${depth} exceeds the limit of ${limits.maxDepth}`);
  }
  const cost = operationCost(schema, document, operationName, variables);
  if (cost > limits.maxCost) {
    return limitError('COST_LIMIT_EXCEEDED', `Query cost ${cost} exceeds the limit of ${limits.maxCost}`);
  }
  return null;
}
