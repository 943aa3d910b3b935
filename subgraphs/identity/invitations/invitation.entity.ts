import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { Field, ID, InputType, ObjectType } from 'type-graphql';

@ObjectType('Invitation')
@Entity({ name: 'invitations' })
export class Invitation {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId: string;

  @Field(() => ID)
  @PrimaryColumn('uuid')
  id: string;

  @Field(() => String)
  @Column('text')
  email: string;

  @Field(() => String)
  @Column('text')
  role: string;

  @Column('text', { name: 'token_hash' })
  tokenHash: string;

  @Column('uuid', { name: 'invited_by' })
  invitedBy: string;

  @Field(() => Date)
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Field(() => Date)
  @Column('timestamptz', { name: 'expires_at' })
  expiresAt: Date;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { name: 'accepted_at', nullable: true })
  acceptedAt: Date | null;

  @Column('uuid', { name: 'accepted_by', nullable: true })
  acceptedBy: string | null;
}

@InputType()
export class InviteUserInput {
  @Field(() => String)
  email: string;

  @Field(() => String, { description: 'admin, member or user', defaultValue: 'member' })
  role: string;
}

@InputType()
export class AcceptInvitationInput {
  @Field(() => String, { description: 'The token from the invitation e-mail' })
  token: string;

  @Field(() => String, { description: "New account: its password. Existing account: that account's password" })
  password: string;
}
