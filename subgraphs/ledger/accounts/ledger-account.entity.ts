import { Column, Entity } from 'typeorm';
import { Field, Int, ObjectType } from 'type-graphql';
import { TenantOwnedEntity } from '../../../kernel/db/tenant-owned.entity';
import { AmountScalar } from '../amount.scalar';

/** bigint and numeric columns arrive from the driver as strings. */
export const bigintColumn = { to: (v: number) => v, from: (v: string) => Number(v) };

/**
 * A double-entry account: its code and currency never change; only its four balances move, each transfer
 * adding to one side of two accounts of the same currency.
 */
@ObjectType('LedgerAccount')
@Entity({ name: 'accounts' })
export class LedgerAccount extends TenantOwnedEntity {
  @Field(() => String, { description: '1 to 64 of a-z, 0-9 and : _ . - (unique with the currency in the tenant)' })
  @Column('text')
  code: string;

  @Field(() => String, { description: 'An ISO 4217 code (USD) or a unit of the tenant (POINTS)' })
  @Column('text')
  currency: string;

  @Field(() => String, { nullable: true, description: 'Whom the account belongs to (any id of the tenant)' })
  @Column('text', { name: 'owner_id', nullable: true })
  ownerId: string | null;

  @Field(() => Boolean, {
    description: 'Debits (posted and pending) may never exceed posted credits: an account that cannot be overdrawn',
  })
  @Column('boolean', { name: 'debits_must_not_exceed_credits' })
  debitsMustNotExceedCredits: boolean;

  @Field(() => Boolean, { description: 'Credits (posted and pending) may never exceed posted debits' })
  @Column('boolean', { name: 'credits_must_not_exceed_debits' })
  creditsMustNotExceedDebits: boolean;

  @Field(() => AmountScalar, { description: 'Debits of pending transfers not yet posted, voided or expired' })
  @Column('numeric', { name: 'debits_pending', precision: 39, scale: 0 })
  debitsPending: string;

  @Field(() => AmountScalar)
  @Column('numeric', { name: 'debits_posted', precision: 39, scale: 0 })
  debitsPosted: string;

  @Field(() => AmountScalar, { description: 'Credits of pending transfers not yet posted, voided or expired' })
  @Column('numeric', { name: 'credits_pending', precision: 39, scale: 0 })
  creditsPending: string;

  @Field(() => AmountScalar)
  @Column('numeric', { name: 'credits_posted', precision: 39, scale: 0 })
  creditsPosted: string;

  @Field(() => Int, { description: "Index of the account's `account.created` entry in the tenant's log" })
  @Column('bigint', { name: 'entry_idx', transformer: bigintColumn })
  entryIndex: number;

  @Field(() => String, {
    description:
      'creditsPosted − debitsPosted as a signed decimal string: positive when the account holds more credits than debits ' +
      '(a liability or income account in credit), negative when debits dominate (an asset or expense account). Pending amounts are not included.',
  })
  get balance(): string {
    return (BigInt(this.creditsPosted) - BigInt(this.debitsPosted)).toString();
  }
}
