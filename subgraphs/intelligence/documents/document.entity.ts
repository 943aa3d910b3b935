import { Column, Entity } from 'typeorm';
import { TenantOwnedEntity } from '../../../kernel/db/tenant-owned.entity';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';
import { Directive, Field, InputType, ObjectType } from 'type-graphql';

/** A piece of tenant knowledge the assistant can search; `embedding` is filled by the embedder. */
@Directive('@key(fields: "id")')
@ObjectType('Document')
@Entity({ name: 'documents' })
export class Document extends TenantOwnedEntity {
  @Field(() => String)
  @Column('text')
  title: string;

  @Field(() => String)
  @Column('text')
  content: string;

  @Field(() => Boolean, { description: 'True once an embedding has been computed' })
  @Column('boolean', { name: 'embedded' })
  embedded: boolean;
}

@InputType()
export class CreateDocumentInput {
  @Field(() => String, {
    description: `${lengthRange(TEXT_LIMITS.documentTitle)}; control and bidirectional formatting characters are removed`,
  })
  title: string;

  @Field(() => String, {
    description: `The text the assistant searches: ${lengthRange(TEXT_LIMITS.documentContent)}, not only spaces`,
  })
  content: string;
}
