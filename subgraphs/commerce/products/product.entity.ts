import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { Directive, Field, ID, InputType, Int, ObjectType } from 'type-graphql';

@Directive('@key(fields: "id")')
@ObjectType('Product')
@Entity({ name: 'products' })
export class Product {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId: string;

  @Field(() => ID)
  @PrimaryColumn('uuid')
  id: string;

  @Field(() => String)
  @Column('text')
  name: string;

  @Field(() => Int, { description: 'Price in the smallest unit of the currency' })
  @Column('integer', { name: 'price_cents' })
  priceCents: number;

  @Field(() => String, { description: 'ISO 4217 code' })
  @Column('text')
  currency: string;

  @Field(() => Date)
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

@InputType()
export class CreateProductInput {
  @Field(() => String)
  name: string;

  @Field(() => Int)
  priceCents: number;

  @Field(() => String, { defaultValue: 'USD' })
  currency: string;
}
