import { Arg, Int, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { AppendLedgerEntryInput, LedgerEntry } from './ledger-entry.entity';
import { LedgerService } from './ledger.service';

@Resolver(() => LedgerEntry)
export class LedgerResolver {
  private readonly service: LedgerService;
  constructor(deps: SubgraphDeps) {
    this.service = new LedgerService(deps);
  }

  @Authorized('ledger:read')
  @Query(() => [LedgerEntry], { description: 'Latest entries first' })
  ledgerEntries(@Arg('first', () => Int, { defaultValue: 50 }) first: number): Promise<LedgerEntry[]> {
    return this.service.list(currentContext(), first);
  }

  @Authorized('ledger:read')
  @Query(() => Boolean, { description: "True when the tenant's hash chain is intact" })
  verifyLedger(): Promise<boolean> {
    return this.service.verify(currentContext());
  }

  @Authorized('ledger:write')
  @Mutation(() => LedgerEntry)
  appendLedgerEntry(@Arg('input', () => AppendLedgerEntryInput) input: AppendLedgerEntryInput): Promise<LedgerEntry> {
    return this.service.append(currentContext(), input);
  }
}
