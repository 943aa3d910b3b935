import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A signed-in device. The refresh token is stored only as a SHA-256 hash. */
@Entity({ name: 'sessions' })
export class Session {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId: string;

  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'user_id' })
  userId: string;

  @Column('text', { name: 'refresh_token_hash' })
  refreshTokenHash: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { name: 'expires_at' })
  expiresAt: Date;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt: Date | null;
}
