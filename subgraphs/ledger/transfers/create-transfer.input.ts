import { Field, ID, InputType, Int } from 'type-graphql';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';
import { AmountScalar } from '../amount.scalar';
import { TransferKind } from './transfer.entity';

export const TRANSFER_CODE_MAX = 64;
export const TIMEOUT_SECONDS_MAX = 31_536_000;

@InputType()
export class CreateTransferInput {
  @Field(() => ID, {
    description:
      "The client's UUID for the transfer: once it is created, the same transfer sent again is answered EXISTS, and the same id with other fields TRANSFER_ID_CONFLICT",
  })
  id: string;

  @Field(() => ID)
  debitAccountId: string;

  @Field(() => ID)
  creditAccountId: string;

  @Field(() => AmountScalar, { description: 'Greater than 0' })
  amount: string;

  @Field(() => Boolean, {
    defaultValue: false,
    description: 'Reserve the amount (pending balances) until postTransfer, voidTransfer or the timeout',
  })
  pending: boolean;

  @Field(() => Int, {
    nullable: true,
    description: `Pending transfers only: expires (its amounts released) after 1 to ${TIMEOUT_SECONDS_MAX} seconds`,
  })
  timeoutSeconds?: number | null;

  @Field(() => Boolean, {
    defaultValue: false,
    description: 'Chained to the next transfer of the batch: the chain succeeds or fails as a whole',
  })
  linked: boolean;

  @Field(() => String, { nullable: true, description: lengthRange(TRANSFER_CODE_MAX) })
  code?: string | null;

  @Field(() => String, { defaultValue: '', description: lengthRange(TEXT_LIMITS.ledgerMemo, 0) })
  memo: string;
}

@InputType()
export class PostTransferInput {
  @Field(() => ID, { description: "The client's UUID for the post transfer" })
  id: string;

  @Field(() => ID, { description: 'The pending transfer to post' })
  pendingId: string;

  @Field(() => AmountScalar, {
    nullable: true,
    description: 'At most the pending amount (the rest is released); the whole pending amount when left out',
  })
  amount?: string | null;
}

@InputType()
export class VoidTransferInput {
  @Field(() => ID, { description: "The client's UUID for the void transfer" })
  id: string;

  @Field(() => ID, { description: 'The pending transfer to release' })
  pendingId: string;
}

@InputType()
export class TransferFilter {
  @Field(() => ID, { nullable: true, description: 'Transfers that debit or credit this account' })
  accountId?: string | null;

  @Field(() => ID, { nullable: true, description: 'The pending transfer and the transfer that resolved it' })
  pendingId?: string | null;

  @Field(() => TransferKind, { nullable: true })
  kind?: TransferKind | null;
}
