import { Arg, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { CreateLedgerAccountInput, LedgerAccountFilter } from './create-ledger-account.input';
import { LedgerAccount } from './ledger-account.entity';
import { LedgerAccountService } from './ledger-account.service';
import { PAGE_DEFAULT } from './log-order.page';

@Resolver(() => LedgerAccount)
export class LedgerAccountResolver {
  private readonly service: LedgerAccountService;
  constructor(deps: SubgraphDeps) {
    this.service = new LedgerAccountService(deps);
  }

  @Authorized('ledger:read')
  @Query(() => [LedgerAccount], {
    description: "The tenant's accounts in the order they were opened; pass the last one's entryIndex as `after`",
  })
  ledgerAccounts(
    @Arg('filter', () => LedgerAccountFilter, { nullable: true }) filter?: LedgerAccountFilter | null,
    @Arg('first', () => Int, { defaultValue: PAGE_DEFAULT, description: '1 to 200' }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<LedgerAccount[]> {
    return this.service.list(currentContext(), filter, first, after);
  }

  @Authorized('ledger:read')
  @Query(() => LedgerAccount, { nullable: true })
  async ledgerAccount(@Arg('id', () => ID) id: string): Promise<LedgerAccount | null> {
    return (await this.service.byIds(currentContext(), [id]))[0];
  }

  @Authorized('ledger:write')
  @Mutation(() => LedgerAccount, {
    description:
      'Opens an account (recorded in the log as `account.created`); refused with ACCOUNT_EXISTS when the code and currency are taken',
  })
  createLedgerAccount(
    @Arg('input', () => CreateLedgerAccountInput) input: CreateLedgerAccountInput,
  ): Promise<LedgerAccount> {
    return this.service.create(currentContext(), input);
  }
}
