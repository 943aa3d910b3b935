import type { SubgraphDefinition } from '../../kernel/subgraph';
import { LedgerInit1763683200000 } from '../../migrations/ledger/1763683200000-ledger-init';
import { LedgerEntry } from './entries/ledger-entry.entity';
import { LedgerResolver } from './entries/ledger.resolver';

/** Append-only, hash-chained entries per tenant. */
export const ledgerSubgraph: SubgraphDefinition = {
  name: 'ledger',
  entities: [LedgerEntry],
  migrations: [LedgerInit1763683200000],
  resolvers: [LedgerResolver],
};
