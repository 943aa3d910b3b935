import { Arg, FieldResolver, Int, Query, Resolver, Root } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { LedgerLog } from './log.service';
import { LogReadService } from './log-read.service';
import { LogVerifier } from './log-verify.service';
import {
  LedgerBlock,
  LedgerCheckpoint,
  LedgerConsistencyProof,
  LedgerEntry,
  LedgerEntryConnection,
  LedgerEntryFilter,
  LedgerInclusionProof,
  LedgerLogName,
  LedgerPublicKey,
  LedgerVerification,
} from './log.types';

const logArg = { defaultValue: LedgerLogName.TENANT, description: 'TENANT (default) or PLATFORM' } as const;

@Resolver(() => LedgerEntry)
export class LedgerLogResolver {
  private readonly service: LogReadService;
  private readonly verifier: LogVerifier;
  constructor(deps: SubgraphDeps) {
    this.service = new LogReadService(deps);
    this.verifier = new LogVerifier(new LedgerLog(deps));
  }

  @Authorized('ledger:read')
  @Query(() => LedgerPublicKey, {
    description: 'The key checkpoints are signed with (also at /.well-known/nexus-ledger-key)',
  })
  ledgerPublicKey(): LedgerPublicKey {
    return this.service.publicKey();
  }

  @Authorized('ledger:read')
  @Query(() => LedgerCheckpoint, {
    nullable: true,
    description:
      'The latest stored checkpoint (null before the first); with treeSize, a head for that size (≤ the current size) signed now',
  })
  ledgerCheckpoint(
    @Arg('log', () => LedgerLogName, logArg) log: LedgerLogName,
    @Arg('treeSize', () => Int, { nullable: true }) treeSize?: number,
  ): Promise<LedgerCheckpoint | null> {
    return this.service.checkpoint(currentContext(), log, treeSize);
  }

  @Authorized('ledger:read')
  @Query(() => [LedgerCheckpoint], { description: 'Stored checkpoints, oldest first, after the given tree size' })
  ledgerCheckpoints(
    @Arg('log', () => LedgerLogName, logArg) log: LedgerLogName,
    @Arg('first', () => Int, { defaultValue: 50, description: '1 to 500' }) first: number,
    @Arg('after', () => Int, { nullable: true, description: 'Only checkpoints of a larger tree size' }) after?: number,
  ): Promise<LedgerCheckpoint[]> {
    return this.service.checkpoints(currentContext(), log, first, after);
  }

  @Authorized('ledger:read')
  @Query(() => [LedgerBlock], { description: 'Blocks (the entries between consecutive checkpoints), oldest first' })
  ledgerBlocks(
    @Arg('log', () => LedgerLogName, logArg) log: LedgerLogName,
    @Arg('first', () => Int, { defaultValue: 50, description: '1 to 500' }) first: number,
    @Arg('after', () => Int, { nullable: true, description: 'Only blocks with a larger number' }) after?: number,
  ): Promise<LedgerBlock[]> {
    return this.service.blocks(currentContext(), log, first, after);
  }

  @Authorized('ledger:read')
  @Query(() => LedgerEntryConnection, { description: 'Entries in index order' })
  ledgerEntries(
    @Arg('log', () => LedgerLogName, logArg) log: LedgerLogName,
    @Arg('filter', () => LedgerEntryFilter, { nullable: true }) filter: LedgerEntryFilter | undefined,
    @Arg('first', () => Int, { defaultValue: 50, description: '1 to 500' }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<LedgerEntryConnection> {
    return this.service.entries(currentContext(), log, filter, first, after);
  }

  @Authorized('ledger:read')
  @Query(() => LedgerEntry, { nullable: true })
  ledgerEntry(
    @Arg('log', () => LedgerLogName, logArg) log: LedgerLogName,
    @Arg('index', () => Int) index: number,
  ): Promise<LedgerEntry | null> {
    return this.service.entry(currentContext(), log, index);
  }

  @Authorized('ledger:read')
  @FieldResolver(() => LedgerInclusionProof, {
    description: "Proof that this entry is in the tree of treeSize entries (default: the log's current size)",
  })
  inclusionProof(
    @Root() entry: LedgerEntry,
    @Arg('treeSize', () => Int, { nullable: true }) treeSize?: number,
  ): Promise<LedgerInclusionProof> {
    return this.service.inclusionProof(currentContext(), entry, treeSize);
  }

  @Authorized('ledger:read')
  @Query(() => LedgerConsistencyProof, {
    description: 'Proof that the tree of toSize entries extends the one of fromSize',
  })
  ledgerConsistencyProof(
    @Arg('log', () => LedgerLogName, logArg) log: LedgerLogName,
    @Arg('fromSize', () => Int) fromSize: number,
    @Arg('toSize', () => Int) toSize: number,
  ): Promise<LedgerConsistencyProof> {
    return this.service.consistencyProof(currentContext(), log, fromSize, toSize);
  }

  @Authorized('ledger:read')
  @Query(() => LedgerVerification, {
    description: 'Recomputes entries fromIndex…toIndex-1 (default: all) against stored hashes and signed checkpoints',
  })
  verifyLedger(
    @Arg('log', () => LedgerLogName, logArg) log: LedgerLogName,
    @Arg('fromIndex', () => Int, { nullable: true }) fromIndex?: number,
    @Arg('toIndex', () => Int, { nullable: true }) toIndex?: number,
  ): Promise<LedgerVerification> {
    return this.service.scope(currentContext(), log, (em, logId) =>
      this.verifier.verify(em, logId, fromIndex, toIndex),
    ) as Promise<LedgerVerification>;
  }
}
