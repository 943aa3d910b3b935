import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Field, InputType, ObjectType } from 'type-graphql';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';

@Entity({ name: 'branding' })
export class Branding {
  @PrimaryColumn('uuid', { name: 'tenant_id' })
  tenantId: string;

  @Column('text', { name: 'display_name', nullable: true })
  displayName: string | null;

  @Column('text', { name: 'logo_url', nullable: true })
  logoUrl: string | null;

  @Column('text', { name: 'primary_color', nullable: true })
  primaryColor: string | null;

  @Column('text', { name: 'accent_color', nullable: true })
  accentColor: string | null;

  @Column('text', { name: 'email_sender_name', nullable: true })
  emailSenderName: string | null;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}

/** What a login page needs to look like the tenant's product, before anyone signs in. */
@ObjectType()
export class TenantBranding {
  @Field(() => String)
  name: string;

  @Field(() => String)
  slug: string;

  @Field(() => String, { description: 'Display name, or the tenant name' })
  displayName: string;

  @Field(() => String, { nullable: true })
  logoUrl: string | null;

  @Field(() => String, { nullable: true, description: '#rrggbb' })
  primaryColor: string | null;

  @Field(() => String, { nullable: true, description: '#rrggbb' })
  accentColor: string | null;

  @Field(() => String, { nullable: true, description: "Sender name of the e-mails the tenant's members get" })
  emailSenderName: string | null;
}

@InputType()
export class UpdateBrandingInput {
  @Field(() => String, {
    nullable: true,
    description: `${lengthRange(TEXT_LIMITS.brandName)}, without line breaks, quotes or angle brackets; other control and bidirectional formatting characters are removed`,
  })
  displayName?: string | null;

  @Field(() => String, { nullable: true, description: 'https URL (at most 2048 characters)' })
  logoUrl?: string | null;

  @Field(() => String, { nullable: true, description: '#rrggbb' })
  primaryColor?: string | null;

  @Field(() => String, { nullable: true, description: '#rrggbb' })
  accentColor?: string | null;

  @Field(() => String, {
    nullable: true,
    description: `Sender name of the tenant's e-mails: ${lengthRange(TEXT_LIMITS.brandName)}, without line breaks, quotes or angle brackets; other control and bidirectional formatting characters are removed`,
  })
  emailSenderName?: string | null;
}
