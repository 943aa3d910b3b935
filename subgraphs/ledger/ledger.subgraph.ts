import type { SubgraphDefinition } from '../../kernel/subgraph';
import { LedgerInit1763683200000 } from '../../migrations/ledger/1763683200000-ledger-init';
import { LedgerMerkleLog1765700000000 } from '../../migrations/ledger/1765700000000-ledger-merkle-log';
import { LedgerAccount } from './accounts/ledger-account.entity';
import { LedgerAccountResolver } from './accounts/ledger-account.resolver';
import { checkpointJob, purgeTenantLog } from './log/log.jobs';
import { LedgerLogResolver } from './log/log.resolver';
import { Transfer } from './transfers/transfer.entity';
import { transferExpiryJob } from './transfers/transfer-expiry.job';
import { TransferResolver } from './transfers/transfer.resolver';
import { ledgerWriters } from './writers/ledger-writers.consumer';

/** Per-tenant append-only logs on RFC 9162 Merkle trees with signed checkpoints; double-entry accounts and transfers. */
export const ledgerSubgraph: SubgraphDefinition = {
  name: 'ledger',
  entities: [LedgerAccount, Transfer],
  migrations: [LedgerInit1763683200000, LedgerMerkleLog1765700000000],
  resolvers: [LedgerLogResolver, LedgerAccountResolver, TransferResolver],
  consumers: ledgerWriters,
  jobs: (deps) => ({ 'ledger-checkpoint': checkpointJob(deps), 'ledger-transfer-expiry': transferExpiryJob(deps) }),
  purge: purgeTenantLog,
};
