import { Field, ID, InputType } from 'type-graphql';

@InputType()
export class CreateLedgerAccountInput {
  @Field(() => String, { description: '1 to 64 of a-z, 0-9 and : _ . - (e.g. `customer:42:wallet`)' })
  code: string;

  @Field(() => String, {
    description:
      'An ISO 4217 code (three capital letters, e.g. EUR) or a unit of the tenant: 3 to 16 of A-Z, 0-9 and _, starting with a letter (e.g. POINTS)',
  })
  currency: string;

  @Field(() => ID, { nullable: true, description: 'Whom the account belongs to (up to 128 characters)' })
  ownerId?: string | null;

  @Field(() => Boolean, {
    defaultValue: false,
    description: 'Refuse any transfer that would take debits (posted + pending) above posted credits',
  })
  debitsMustNotExceedCredits: boolean;

  @Field(() => Boolean, {
    defaultValue: false,
    description: 'Refuse any transfer that would take credits (posted + pending) above posted debits',
  })
  creditsMustNotExceedDebits: boolean;
}

@InputType()
export class LedgerAccountFilter {
  @Field(() => String, { nullable: true })
  currency?: string | null;

  @Field(() => String, { nullable: true })
  code?: string | null;

  @Field(() => ID, { nullable: true })
  ownerId?: string | null;
}
