import {
  Kind,
  parse,
  visit,
  type ASTNode,
  type DefinitionNode,
  type DirectiveNode,
  type OperationTypeNode,
} from 'graphql';
import { METERED_FIELDS, type MeteredMetric } from '../kernel/admission';
import {
  GATEWAY_POLICIES,
  GATEWAY_POLICY_TAG,
  isGatewayPolicy,
  meteredMetricOf,
  type GatewayPolicy,
} from '../kernel/contracts/gateway-policy';

/** The kind of operation a root field belongs to. */
export type OperationType = `${OperationTypeNode}`;

const DEFAULT_ROOT_TYPES: Record<OperationType, string> = {
  query: 'Query',
  mutation: 'Mutation',
  subscription: 'Subscription',
};

/**
 * Policies without which the gateway refuses what it must allow: members of a suspended (or deleted) tenant
 * could not even sign out, a tenant past its API-call limit could not read its usage. A supergraph that declares
 * none of one is refused (it was composed without the declarations).
 */
const REQUIRED_POLICIES: readonly GatewayPolicy[] = [
  'open-while-suspended',
  'open-over-api-limit',
  'open-while-deleted',
];

/**
 * The gateway policies the subgraphs declared on their fields (kernel/contracts/gateway-policy.ts), read from
 * the supergraph's `@tag(name: "nexus.<policy>")`, every field as `Type.field` (root fields under the root type
 * of their operation: a policy on `Query.x` says nothing of `Subscription.x`).
 */
export class FieldPolicies {
  static readonly none = new FieldPolicies(new Map());

  constructor(
    private readonly byPolicy: ReadonlyMap<GatewayPolicy, ReadonlySet<string>>,
    private readonly rootTypes: Readonly<Record<OperationType, string>> = DEFAULT_ROOT_TYPES,
  ) {}

  /** The fields (`Type.field`) that declared `policy`. */
  fields(policy: GatewayPolicy): ReadonlySet<string> {
    return this.byPolicy.get(policy) ?? new Set();
  }

  /** Whether `field` (`Type.field`) declared `policy`. */
  has(policy: GatewayPolicy, field: string): boolean {
    return this.fields(policy).has(field);
  }

  /** The coordinate (`Type.field`) of the root field `field` of an `operation`. */
  rootField(operation: OperationType, field: string): string {
    return `${this.rootTypes[operation]}.${field}`;
  }

  /** Whether the root field `field` of an `operation` declared `policy`. */
  rootHas(policy: GatewayPolicy, operation: OperationType, field: string): boolean {
    return this.has(policy, this.rootField(operation, field));
  }

  /** The metered resource the root field `field` of an `operation` may use one unit of, if any. */
  meteredMetric(operation: OperationType, field: string): MeteredMetric | null {
    return this.meteredMetrics(this.rootField(operation, field))[0] ?? null;
  }

  /** Every declaration, as `{ policy: [fields, sorted] }`. */
  toJSON(): Record<string, string[]> {
    return Object.fromEntries([...this.byPolicy].map(([p, fields]) => [p, [...fields].sort()]));
  }

  private meteredMetrics(coordinate: string): MeteredMetric[] {
    const metrics: MeteredMetric[] = [];
    for (const [policy, fields] of this.byPolicy) {
      const metric = meteredMetricOf(policy);
      if (metric && fields.has(coordinate)) metrics.push(metric);
    }
    return metrics;
  }

  /**
   * What a supergraph the gateway runs must declare: every root field a call may act as (METERED_FIELDS,
   * mutations) exactly one metered resource, and each required policy on some field. Empty when complete.
   */
  missing(): string[] {
    const problems: string[] = [];
    for (const field of METERED_FIELDS) {
      const coordinate = this.rootField('mutation', field);
      if (!this.meteredMetrics(coordinate).length) problems.push(`${coordinate}: declares no "uses-*" policy`);
    }
    for (const policy of REQUIRED_POLICIES)
      if (!this.fields(policy).size) problems.push(`no field declares "${policy}"`);
    return problems;
  }
}

/**
 * The root types of a schema document by operation: those its `schema { … }` names, else the default names.
 * An operation the document's schema definition leaves out keeps the default name in the map, but is no root.
 */
function rootTypesOf(definitions: readonly DefinitionNode[]): {
  byOperation: Record<OperationType, string>;
  names: Set<string>;
} {
  const byOperation = { ...DEFAULT_ROOT_TYPES };
  const schemas = definitions.filter((d) => d.kind === Kind.SCHEMA_DEFINITION || d.kind === Kind.SCHEMA_EXTENSION);
  const declared = schemas.flatMap((d) => d.operationTypes ?? []);
  if (!declared.length) return { byOperation, names: new Set(Object.values(byOperation)) };
  for (const op of declared) byOperation[op.operation as OperationType] = op.type.name.value;
  return { byOperation, names: new Set(declared.map((op) => op.type.name.value)) };
}

function tagName(directive: DirectiveNode): string | null {
  if (directive.name.value !== 'tag') return null;
  const arg = directive.arguments?.find((a) => a.name.value === 'name');
  return arg?.value.kind === Kind.STRING ? arg.value.value : null;
}

const isNode = (x: unknown): x is ASTNode => typeof x === 'object' && x !== null && 'kind' in x;

/** Where a directive sits, as a schema coordinate (`Type`, `Type.field`, `Type.field(arg:)`, `@dir(arg:)`…). */
function coordinateOf(owners: readonly ASTNode[]): string {
  let text = '';
  let previous: ASTNode | undefined;
  for (const node of owners) {
    if (node.kind === Kind.SCHEMA_DEFINITION || node.kind === Kind.SCHEMA_EXTENSION) text = 'schema';
    else if (node.kind === Kind.DIRECTIVE_DEFINITION) text = `@${node.name.value}`;
    else if (
      node.kind === Kind.INPUT_VALUE_DEFINITION &&
      (previous?.kind === Kind.FIELD_DEFINITION || previous?.kind === Kind.DIRECTIVE_DEFINITION)
    )
      text += `(${node.name.value}:)`;
    else if (
      node.kind === Kind.FIELD_DEFINITION ||
      node.kind === Kind.INPUT_VALUE_DEFINITION ||
      node.kind === Kind.ENUM_VALUE_DEFINITION
    )
      text += `.${node.name.value}`;
    else if (node.kind !== Kind.DOCUMENT && 'name' in node && node.name) text = node.name.value;
    previous = node;
  }
  return text;
}

/**
 * Reads every gateway policy declared in a schema document (a subgraph's or the supergraph), without asking
 * it to be complete. Throws on a `nexus.*` tag that names no policy, sits anywhere but on a field of an object
 * type (an interface's field, a type, an argument, an input field, an enum value…), declares a root-field
 * policy on another field, or on a field that already declares a `uses-*` policy: a declaration the gateway
 * would not apply is refused, not ignored.
 */
export function declaredPolicies(sdl: string): FieldPolicies {
  const document = parse(sdl, { noLocation: true });
  const roots = rootTypesOf(document.definitions);
  const byPolicy = new Map<GatewayPolicy, Set<string>>();
  const problems: string[] = [];
  const metered = new Map<string, GatewayPolicy>();
  visit(document, {
    Directive(directive, _key, _parent, _path, ancestors) {
      const tag = tagName(directive);
      if (tag === null || !tag.startsWith(GATEWAY_POLICY_TAG)) return;
      const policy = tag.slice(GATEWAY_POLICY_TAG.length);
      const owners = ancestors.filter(isNode);
      const coordinate = coordinateOf(owners);
      const [owner, field] = owners.slice(-2);
      if (!isGatewayPolicy(policy)) return void problems.push(`${coordinate}: unknown gateway policy "${policy}"`);
      if (
        field?.kind !== Kind.FIELD_DEFINITION ||
        (owner?.kind !== Kind.OBJECT_TYPE_DEFINITION && owner?.kind !== Kind.OBJECT_TYPE_EXTENSION)
      )
        return void problems.push(`${coordinate}: "${policy}" applies to fields of object types only`);
      if (GATEWAY_POLICIES[policy] === 'root' && !roots.names.has(owner.name.value))
        return void problems.push(`${coordinate}: "${policy}" applies to root fields only`);
      if (meteredMetricOf(policy)) {
        const other = metered.get(coordinate);
        if (other && other !== policy)
          return void problems.push(`${coordinate}: declares both "${other}" and "${policy}" (one "uses-*" at most)`);
        metered.set(coordinate, policy);
      }
      const fields = byPolicy.get(policy) ?? new Set<string>();
      byPolicy.set(policy, fields);
      fields.add(coordinate);
    },
  });
  if (problems.length)
    throw new Error(`The supergraph declares gateway policies the gateway refuses:\n  ${problems.join('\n  ')}`);
  return new FieldPolicies(byPolicy, roots.byOperation);
}

/**
 * Reads the gateway policies of the supergraph the gateway is to run (on start and on every update): refused
 * as `declaredPolicies` refuses a declaration, and also when it lacks what the gateway cannot work without
 * (FieldPolicies.missing), as a supergraph composed without the declarations would.
 */
export function policiesFromSupergraph(supergraphSdl: string): FieldPolicies {
  const policies = declaredPolicies(supergraphSdl);
  const missing = policies.missing();
  if (missing.length)
    throw new Error(`The supergraph lacks gateway policies the gateway needs:\n  ${missing.join('\n  ')}`);
  return policies;
}
