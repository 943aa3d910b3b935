import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { Directive, Field, ID, ObjectType } from 'type-graphql';

/** A person's account. Global (one account, many tenants); visible to itself and to fellow members (its `email`: see UserResolver). */
@Directive('@key(fields: "id")')
@ObjectType('User')
@Entity({ name: 'users' })
export class User {
  @Field(() => ID)
  @PrimaryColumn('uuid')
  id: string;

  /**
   * The address this account holds: it signs in with it and mail reaches it there. Null for an account made by a
   * registration that named an address another account already held (see `registeredEmail`).
   */
  @Column('text', { nullable: true })
  email: string | null;

  /** The address such a registration named: shown as the account's own, never used to find or mail the account. */
  @Column('text', { name: 'registered_email', nullable: true })
  registeredEmail: string | null;

  /** Lets sign-in pick such an account for its own password (keyed 16-bit tag of address and password). */
  @Column('int', { name: 'registration_tag', nullable: true, select: false })
  registrationTag: number | null;

  /** The address the account signs in with: the one it holds, else the one its registration named. */
  get address(): string {
    return this.email ?? this.registeredEmail ?? '';
  }

  /** Set on the account's own view (a sign-in's payload): shown there as to the account itself (see UserResolver.email). */
  viewedBySelf?: boolean;

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
