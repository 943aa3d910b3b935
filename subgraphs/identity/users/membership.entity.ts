import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** Which tenants an account may act in, and with which system role. */
@Entity({ name: 'memberships' })
export class IdentityMembership {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId: string;

  @PrimaryColumn('uuid', { name: 'user_id' })
  userId: string;

  @Column('text')
  role: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
