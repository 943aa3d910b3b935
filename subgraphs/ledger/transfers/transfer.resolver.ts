import { Arg, Int, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { PAGE_DEFAULT } from '../accounts/log-order.page';
import { CreateTransferInput, PostTransferInput, TransferFilter, VoidTransferInput } from './create-transfer.input';
import { CreateTransferResult, Transfer } from './transfer.entity';
import { MAX_TRANSFERS_PER_CALL, TransferService } from './transfer.service';

@Resolver(() => Transfer)
export class TransferResolver {
  private readonly service: TransferService;
  constructor(deps: SubgraphDeps) {
    this.service = new TransferService(deps);
  }

  @Authorized('ledger:read')
  @Query(() => [Transfer], {
    description: "The tenant's transfers in log order; pass the last one's entryIndex as `after`",
  })
  transfers(
    @Arg('filter', () => TransferFilter, { nullable: true }) filter?: TransferFilter | null,
    @Arg('first', () => Int, { defaultValue: PAGE_DEFAULT, description: '1 to 200' }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<Transfer[]> {
    return this.service.list(currentContext(), filter, first, after);
  }

  @Authorized('ledger:write')
  @Mutation(() => [CreateTransferResult], {
    description:
      `Up to ${MAX_TRANSFERS_PER_CALL} transfers in one transaction, answered in input order. A linked transfer is chained ` +
      'to the next: the chain succeeds or fails as a whole (its other transfers fail with LINKED_TRANSFER_FAILED; a batch ' +
      'ending in a linked transfer fails its last chain with LINKED_CHAIN_OPEN). Other transfers and chains succeed or fail ' +
      'on their own. An id sent again with the same fields answers EXISTS; with others, TRANSFER_ID_CONFLICT.',
  })
  createTransfers(
    @Arg('input', () => [CreateTransferInput]) input: CreateTransferInput[],
  ): Promise<CreateTransferResult[]> {
    return this.service.create(currentContext(), input);
  }

  @Authorized('ledger:write')
  @Mutation(() => Transfer, {
    description: 'Posts a pending transfer in full or in part (the rest is released); a pending transfer resolves once',
  })
  postTransfer(@Arg('input', () => PostTransferInput) input: PostTransferInput): Promise<Transfer> {
    return this.service.post(currentContext(), input);
  }

  @Authorized('ledger:write')
  @Mutation(() => Transfer, { description: 'Releases a pending transfer; a pending transfer resolves once' })
  voidTransfer(@Arg('input', () => VoidTransferInput) input: VoidTransferInput): Promise<Transfer> {
    return this.service.void(currentContext(), input);
  }
}
