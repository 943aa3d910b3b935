import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';

@ObjectType('ApiKey')
@Entity({ name: 'api_keys' })
export class ApiKey {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId: string;

  @Field(() => ID)
  @PrimaryColumn('uuid')
  id: string;

  @Field(() => ID, { description: 'The account that created it and whose rights bound it' })
  @Column('uuid', { name: 'user_id' })
  userId: string;

  @Field(() => String)
  @Column('text')
  name: string;

  @Field(() => String, { description: 'Visible start of the key, to recognise it' })
  @Column('text')
  prefix: string;

  @Column('text', { name: 'secret_hash' })
  secretHash: string;

  @Field(() => [String])
  @Column('text', { array: true })
  permissions: string[];

  @Field(() => Date)
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { name: 'expires_at', nullable: true })
  expiresAt: Date | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { name: 'last_used_at', nullable: true })
  lastUsedAt: Date | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt: Date | null;
}

@InputType()
export class CreateApiKeyInput {
  @Field(() => String, {
    description: `${lengthRange(TEXT_LIMITS.apiKeyName)}; control and bidirectional formatting characters are removed`,
  })
  name: string;

  @Field(() => [String], { description: 'Must be a subset of your own permissions' })
  permissions: string[];

  @Field(() => Date, { nullable: true })
  expiresAt?: Date | null;
}

@ObjectType()
export class CreatedApiKey {
  @Field(() => ApiKey)
  apiKey: ApiKey;

  @Field(() => String, { description: 'The key itself: shown once, store it now' })
  secret: string;
}
