/** The services of the platform, their join-graph names and default ports. */
export const SUBGRAPHS = ['identity', 'tenancy', 'commerce', 'ledger', 'messaging', 'intelligence'] as const;
export type SubgraphName = (typeof SUBGRAPHS)[number];
export type ServiceName = 'gateway' | SubgraphName;

export const DEFAULT_PORTS: Record<ServiceName, number> = {
  gateway: 4000,
  identity: 4001,
  tenancy: 4002,
  commerce: 4003,
  ledger: 4004,
  messaging: 4005,
  intelligence: 4006,
};

export function isSubgraphName(value: string): value is SubgraphName {
  return (SUBGRAPHS as readonly string[]).includes(value);
}
