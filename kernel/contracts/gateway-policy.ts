import { Directive } from 'type-graphql';
import type { MeteredMetric } from '../admission';

/**
 * What a subgraph declares to the gateway about one of its fields, on the resolver that owns it. Each policy
 * travels as a Federation `@tag(name: "nexus.<policy>")` into schema/supergraph.graphql (never into the API
 * schema clients see), where the gateway reads it when it loads the supergraph (gateway/policies.ts). A tag
 * `nexus.*` the gateway does not know stops it from loading that supergraph: a misspelt policy fails, it is not ignored.
 * So does one anywhere but on a field of an object type, a root policy on another field, a second `uses-*` on a
 * field, and a supergraph lacking what the gateway needs (a `uses-*` on each of METERED_FIELDS, kernel/admission.ts;
 * at least one field open while suspended, while deleted and over the API-call limit). Root fields are told apart by
 * their root type: a policy on `Query.x` says nothing of `Subscription.x`.
 */
export const GATEWAY_POLICIES = {
  /** Root field members of a suspended tenant, one whose trial ended, or a deleted one may still call. */
  'open-while-suspended': 'root',
  /** Root field members of a deleted tenant may also call (restoring it). */
  'open-while-deleted': 'root',
  /** Root field a tenant past its API-call limit may still call (it is counted, not refused). */
  'open-over-api-limit': 'root',
  /** Root field that may create one message: the gateway holds room for it within the tenant's limit. */
  'uses-messages': 'root',
  /** Root field that may add one member (or needs room for one). */
  'uses-members': 'root',
  /** Field whose value depends on who reads it: a subscription selecting it is shared only with the same user. */
  'viewer-dependent': 'any',
} as const satisfies Record<string, 'root' | 'any'> & Record<`uses-${MeteredMetric}`, 'root'>;

export type GatewayPolicy = keyof typeof GATEWAY_POLICIES;

/** Prefix of the @tag names that carry gateway policies. */
export const GATEWAY_POLICY_TAG = 'nexus.';

/** The metered resource a `uses-*` policy names. */
export function meteredMetricOf(policy: GatewayPolicy): MeteredMetric | null {
  return policy.startsWith('uses-') ? (policy.slice('uses-'.length) as MeteredMetric) : null;
}

export function isGatewayPolicy(name: string): name is GatewayPolicy {
  return Object.hasOwn(GATEWAY_POLICIES, name);
}

/** Declares gateway policies on a resolver field (`@GatewayPolicy('open-while-suspended')`). */
export function GatewayPolicy(...policies: [GatewayPolicy, ...GatewayPolicy[]]): MethodDecorator & PropertyDecorator {
  const tags = policies.map((p) => Directive(`@tag(name: "${GATEWAY_POLICY_TAG}${p}")`));
  return (target: object, key: string | symbol, descriptor?: PropertyDescriptor) => {
    for (const tag of tags)
      (tag as (t: object, k: string | symbol, d?: PropertyDescriptor) => void)(target, key, descriptor);
  };
}
