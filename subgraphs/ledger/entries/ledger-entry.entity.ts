import { Column, Entity } from 'typeorm';
import { TenantOwnedEntity } from '../../../kernel/db/tenant-owned.entity';
import { Directive, Field, InputType, Int, ObjectType } from 'type-graphql';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';

/** One append-only entry of a tenant's hash chain: hash = SHA-256(previous hash, sequence, content). */
@Directive('@key(fields: "id")')
@ObjectType('LedgerEntry')
@Entity({ name: 'entries' })
export class LedgerEntry extends TenantOwnedEntity {
  @Field(() => Int, { description: 'Position in the tenant chain, from 1' })
  @Column('bigint', { transformer: { to: (v: number) => v, from: (v: string) => Number(v) } })
  sequence: number;

  @Field(() => String)
  @Column('text')
  account: string;

  @Field(() => Int)
  @Column('bigint', { name: 'amount_cents', transformer: { to: (v: number) => v, from: (v: string) => Number(v) } })
  amountCents: number;

  @Field(() => String)
  @Column('text')
  memo: string;

  @Field(() => String)
  @Column('text', { name: 'prev_hash' })
  prevHash: string;

  @Field(() => String)
  @Column('text')
  hash: string;
}

@InputType()
export class AppendLedgerEntryInput {
  @Field(() => String, { description: '1 to 64 of a-z, 0-9 and : _ . -' })
  account: string;

  @Field(() => Int)
  amountCents: number;

  @Field(() => String, { defaultValue: '', description: lengthRange(TEXT_LIMITS.ledgerMemo, 0) })
  memo: string;
}
