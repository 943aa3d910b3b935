import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { Directive, Field, ID, ObjectType } from 'type-graphql';

/** A person's account. Global (one account, many tenants); visible to itself and to fellow members. */
@Directive('@key(fields: "id")')
@ObjectType('User')
@Entity({ name: 'users' })
export class User {
  @Field(() => ID)
  @PrimaryColumn('uuid')
  id: string;

  @Field(() => String)
  @Column('text')
  email: string;

  @Column('text', { name: 'password_hash', select: false })
  passwordHash: string;

  @Field(() => Date)
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { name: 'email_verified_at', nullable: true })
  emailVerifiedAt: Date | null;

  @Field(() => Boolean, { description: 'True once the owner confirmed the address through the mailed link' })
  get emailVerified(): boolean {
    return this.emailVerifiedAt !== null && this.emailVerifiedAt !== undefined;
  }
}
