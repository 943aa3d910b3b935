import type { SubgraphDefinition } from '../../kernel/subgraph';
import { LedgerInit1763683200000 } from '../../migrations/ledger/1763683200000-ledger-init';
import { LedgerMerkleLog1765700000000 } from '../../migrations/ledger/1765700000000-ledger-merkle-log';
import { checkpointJob, purgeTenantLog } from './log/log.jobs';
import { LedgerLogResolver } from './log/log.resolver';

/** Per-tenant append-only logs on RFC 9162 Merkle trees with signed checkpoints; double-entry accounts and transfers. */
export const ledgerSubgraph: SubgraphDefinition = {
  name: 'ledger',
  entities: [],
  migrations: [LedgerInit1763683200000, LedgerMerkleLog1765700000000],
  resolvers: [LedgerLogResolver],
  jobs: (deps) => ({ 'ledger-checkpoint': checkpointJob(deps) }),
  purge: purgeTenantLog,
};
