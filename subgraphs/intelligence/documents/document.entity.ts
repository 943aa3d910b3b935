import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { Directive, Field, ID, InputType, ObjectType } from 'type-graphql';

/** A piece of tenant knowledge the assistant can search; `embedding` is filled by the embedder. */
@Directive('@key(fields: "id")')
@ObjectType('Document')
@Entity({ name: 'documents' })
export class Document {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId: string;

  @Field(() => ID)
  @PrimaryColumn('uuid')
  id: string;

  @Field(() => String)
  @Column('text')
  title: string;

  @Field(() => String)
  @Column('text')
  content: string;

  @Field(() => Boolean, { description: 'True once an embedding has been computed' })
  @Column('boolean', { name: 'embedded' })
  embedded: boolean;

  @Field(() => Date)
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

@InputType()
export class CreateDocumentInput {
  @Field(() => String)
  title: string;

  @Field(() => String)
  content: string;
}
