import { Kind, parse, type DefinitionNode, type FieldDefinitionNode } from 'graphql';
import type { MeteredMetric } from '../kernel/admission';
import {
  GATEWAY_POLICIES,
  GATEWAY_POLICY_TAG,
  isGatewayPolicy,
  meteredMetricOf,
  type GatewayPolicy,
} from '../kernel/contracts/gateway-policy';

/**
 * The gateway policies the subgraphs declared on their fields (kernel/contracts/gateway-policy.ts), read from
 * the supergraph's `@tag(name: "nexus.<policy>")`: root field names for policies on root fields, `Type.field`
 * for the others.
 */
export class FieldPolicies {
  static readonly none = new FieldPolicies(new Map());

  constructor(private readonly byPolicy: ReadonlyMap<GatewayPolicy, ReadonlySet<string>>) {}

  /** The fields that declared `policy` (root fields by name, others as `Type.field`). */
  fields(policy: GatewayPolicy): ReadonlySet<string> {
    return this.byPolicy.get(policy) ?? new Set();
  }

  /** Whether `field` (a root field's name, or `Type.field`) declared `policy`. */
  has(policy: GatewayPolicy, field: string): boolean {
    return this.fields(policy).has(field);
  }

  /** The metered resource a root field may use one unit of, if any. */
  meteredMetric(field: string): MeteredMetric | null {
    for (const [policy, fields] of this.byPolicy) {
      const metric = meteredMetricOf(policy);
      if (metric && fields.has(field)) return metric;
    }
    return null;
  }

  /** Every declaration, as `{ policy: [fields, sorted] }`. */
  toJSON(): Record<string, string[]> {
    return Object.fromEntries([...this.byPolicy].map(([p, fields]) => [p, [...fields].sort()]));
  }
}

const ROOT_TYPES = { query: 'Query', mutation: 'Mutation', subscription: 'Subscription' } as const;

/** The root type names of a schema document (its `schema { … }`, else the default names). */
function rootTypeNames(definitions: readonly DefinitionNode[]): Set<string> {
  const names = new Set<string>(Object.values(ROOT_TYPES));
  for (const def of definitions) {
    if (def.kind !== Kind.SCHEMA_DEFINITION) continue;
    names.clear();
    for (const op of def.operationTypes) names.add(op.type.name.value);
  }
  return names;
}

function tagNames(field: FieldDefinitionNode): string[] {
  return (field.directives ?? [])
    .filter((d) => d.name.value === 'tag')
    .flatMap((d) => d.arguments?.filter((a) => a.name.value === 'name') ?? [])
    .flatMap((a) => (a.value.kind === Kind.STRING ? [a.value.value] : []));
}

/**
 * Reads every gateway policy declared in the supergraph. Throws on a `nexus.*` tag that names no policy, or a
 * root-field policy declared on another field: a declaration the gateway would not apply is refused, not ignored.
 */
export function policiesFromSupergraph(supergraphSdl: string): FieldPolicies {
  const { definitions } = parse(supergraphSdl, { noLocation: true });
  const roots = rootTypeNames(definitions);
  const byPolicy = new Map<GatewayPolicy, Set<string>>();
  const problems: string[] = [];
  for (const def of definitions) {
    if (def.kind !== Kind.OBJECT_TYPE_DEFINITION && def.kind !== Kind.OBJECT_TYPE_EXTENSION) continue;
    const isRoot = roots.has(def.name.value);
    for (const field of def.fields ?? []) {
      const coordinate = `${def.name.value}.${field.name.value}`;
      for (const tag of tagNames(field)) {
        if (!tag.startsWith(GATEWAY_POLICY_TAG)) continue;
        const policy = tag.slice(GATEWAY_POLICY_TAG.length);
        if (!isGatewayPolicy(policy)) problems.push(`${coordinate}: unknown gateway policy "${policy}"`);
        else if (GATEWAY_POLICIES[policy] === 'root' && !isRoot)
          problems.push(`${coordinate}: "${policy}" applies to root fields only`);
        else {
          const fields = byPolicy.get(policy) ?? new Set<string>();
          byPolicy.set(policy, fields);
          fields.add(GATEWAY_POLICIES[policy] === 'root' ? field.name.value : coordinate);
        }
      }
    }
  }
  if (problems.length)
    throw new Error(`The supergraph declares gateway policies the gateway refuses:\n  ${problems.join('\n  ')}`);
  return new FieldPolicies(byPolicy);
}
