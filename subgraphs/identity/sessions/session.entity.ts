import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A signed-in device in one tenant. Its refresh tokens live in `refresh_tokens`, stored hashed. */
@Entity({ name: 'sessions' })
export class Session {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId: string;

  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'user_id' })
  userId: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { name: 'last_used_at' })
  lastUsedAt: Date;

  @Column('timestamptz', { name: 'expires_at' })
  expiresAt: Date;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt: Date | null;

  @Column('text', { name: 'revoked_reason', nullable: true })
  revokedReason: string | null;

  @Column('text', { name: 'user_agent', nullable: true })
  userAgent: string | null;

  @Column('text', { nullable: true })
  ip: string | null;

  /** Set when a platform Super Admin entered this tenant without being a member (the same account). */
  @Column('uuid', { name: 'impersonator_id', nullable: true })
  impersonatorId: string | null;

  /** How the person signed in: with a password (and maybe a second factor), or through their identity provider. */
  @Column('text', { name: 'auth_method', default: 'password' })
  authMethod: 'password' | 'sso';

  @Column('text', { name: 'impersonation_reason', nullable: true })
  impersonationReason: string | null;
}

/** One refresh token of a session; `usedAt` is set when it is exchanged (rotation). */
@Entity({ name: 'refresh_tokens' })
export class RefreshToken {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId: string;

  @PrimaryColumn('text', { name: 'token_hash' })
  tokenHash: string;

  @Column('uuid', { name: 'session_id' })
  sessionId: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { name: 'used_at', nullable: true })
  usedAt: Date | null;
}
