import type { SubgraphDefinition } from '../kernel/subgraph';
import type { SubgraphName } from '../kernel/services';
import { commerceSubgraph } from './commerce/commerce.subgraph';
import { identitySubgraph } from './identity/identity.subgraph';
import { intelligenceSubgraph } from './intelligence/intelligence.subgraph';
import { ledgerSubgraph } from './ledger/ledger.subgraph';
import { messagingSubgraph } from './messaging/messaging.subgraph';
import { tenancySubgraph } from './tenancy/tenancy.subgraph';

/** The registry the runtime, compose and migrate commands use. */
export const SUBGRAPH_DEFINITIONS: Record<SubgraphName, SubgraphDefinition> = {
  identity: identitySubgraph,
  tenancy: tenancySubgraph,
  commerce: commerceSubgraph,
  ledger: ledgerSubgraph,
  messaging: messagingSubgraph,
  intelligence: intelligenceSubgraph,
};
