import { Column, Entity } from 'typeorm';
import { TenantOwnedEntity } from '../../../kernel/db/tenant-owned.entity';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';
import { Directive, Field, InputType, Int, ObjectType } from 'type-graphql';

@Directive('@key(fields: "id")')
@ObjectType('Product')
@Entity({ name: 'products' })
export class Product extends TenantOwnedEntity {
  @Field(() => String)
  @Column('text')
  name: string;

  @Field(() => Int, { description: 'Price in the smallest unit of the currency' })
  @Column('integer', { name: 'price_cents' })
  priceCents: number;

  @Field(() => String, { description: 'ISO 4217 code' })
  @Column('text')
  currency: string;
}

@InputType()
export class CreateProductInput {
  @Field(() => String, {
    description: `${lengthRange(TEXT_LIMITS.productName)}; control and bidirectional formatting characters are removed`,
  })
  name: string;

  @Field(() => Int)
  priceCents: number;

  @Field(() => String, { defaultValue: 'USD', description: 'ISO 4217 code (three letters)' })
  currency: string;
}
