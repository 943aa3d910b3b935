import { CreateDateColumn, PrimaryColumn } from 'typeorm';
import { Field, ID, ObjectType } from 'type-graphql';

/**
 * Columns every tenant-owned entity starts with: the primary key is (tenant_id, id), so rows can be
 * distributed by tenant, and tenant_id is what row-level security checks.
 */
@ObjectType()
export abstract class TenantOwnedEntity {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId: string;

  @Field(() => ID)
  @PrimaryColumn('uuid')
  id: string;

  @Field(() => Date)
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
