import { Column, Entity } from 'typeorm';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { TenantOwnedEntity } from '../../../kernel/db/tenant-owned.entity';
import { AmountScalar } from '../amount.scalar';
import { bigintColumn } from '../accounts/ledger-account.entity';

export enum TransferKind {
  /** Posts at once: debits and credits the accounts' posted balances. */
  SINGLE = 'single',
  /** Reserves the amount in the accounts' pending balances until it is posted, voided or expires. */
  PENDING = 'pending',
  /** Posts a pending transfer, in full or in part (the rest is released). */
  POST = 'post',
  /** Releases a pending transfer. */
  VOID = 'void',
  /** Releases a pending transfer whose timeout is over. */
  EXPIRE = 'expire',
}
registerEnumType(TransferKind, { name: 'TransferKind' });

export enum TransferStatus {
  POSTED = 'posted',
  PENDING = 'pending',
  VOIDED = 'voided',
  EXPIRED = 'expired',
}
registerEnumType(TransferStatus, {
  name: 'TransferStatus',
  description:
    'A pending transfer is PENDING until it is POSTED, VOIDED or EXPIRED (its expire transfer is written by the expiry job soon after the timeout, or at once by a postTransfer or voidTransfer that comes later); single and post transfers are POSTED, void ones VOIDED, expire ones EXPIRED',
});

/** One row of the ledger's history: written once, with its entry in the log, and never changed. */
@ObjectType('Transfer')
@Entity({ name: 'transfers' })
export class Transfer extends TenantOwnedEntity {
  @Field(() => TransferKind)
  @Column('text')
  kind: TransferKind;

  @Field(() => ID)
  @Column('uuid', { name: 'debit_account_id' })
  debitAccountId: string;

  @Field(() => ID)
  @Column('uuid', { name: 'credit_account_id' })
  creditAccountId: string;

  @Field(() => AmountScalar, {
    description: 'Posted for a post transfer; released (the pending amount) for a void or expire transfer',
  })
  @Column('numeric', { precision: 39, scale: 0 })
  amount: string;

  @Field(() => String)
  @Column('text')
  currency: string;

  @Field(() => ID, { nullable: true, description: 'The pending transfer a post, void or expire transfer resolves' })
  @Column('uuid', { name: 'pending_id', nullable: true })
  pendingId: string | null;

  @Field(() => Int, { nullable: true, description: 'Pending transfers: seconds until it expires' })
  @Column('integer', { name: 'timeout_seconds', nullable: true })
  timeoutSeconds: number | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { name: 'expires_at', nullable: true })
  expiresAt: Date | null;

  @Field(() => String, { nullable: true, description: "The client's own code for the transfer" })
  @Column('text', { nullable: true })
  code: string | null;

  @Field(() => String)
  @Column('text', { default: '' })
  memo: string;

  /** SHA-256 of the request's fields: a retry with the same id is recognised, a different request refused. */
  @Column('text', { name: 'request_hash' })
  requestHash: string;

  @Field(() => Int, { description: "Index of the transfer's entry in the tenant's log" })
  @Column('bigint', { name: 'entry_idx', transformer: bigintColumn })
  entryIndex: number;

  /** Where a pending transfer stands (set by the service from the rows that resolve it). */
  resolution?: TransferStatus;

  @Field(() => TransferStatus)
  get status(): TransferStatus {
    switch (this.kind) {
      case TransferKind.PENDING:
        return this.resolution ?? TransferStatus.PENDING;
      case TransferKind.VOID:
        return TransferStatus.VOIDED;
      case TransferKind.EXPIRE:
        return TransferStatus.EXPIRED;
      default:
        return TransferStatus.POSTED;
    }
  }
}

export enum CreateTransferStatus {
  CREATED = 'created',
  EXISTS = 'exists',
  FAILED = 'failed',
}
registerEnumType(CreateTransferStatus, {
  name: 'CreateTransferStatus',
  description: 'CREATED now; EXISTS: the same transfer was created before (a retry); FAILED: see errorCode',
});

@ObjectType('CreateTransferResult')
export class CreateTransferResult {
  @Field(() => ID)
  id: string;

  @Field(() => CreateTransferStatus)
  status: CreateTransferStatus;

  @Field(() => String, { nullable: true })
  errorCode: string | null;

  @Field(() => String, { nullable: true })
  message: string | null;

  @Field(() => Transfer, { nullable: true, description: 'The stored transfer (CREATED or EXISTS)' })
  transfer: Transfer | null;
}
