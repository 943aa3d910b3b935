import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';

export enum SsoKind {
  SAML = 'saml',
  OIDC = 'oidc',
}
registerEnumType(SsoKind, { name: 'SsoKind' });

@InputType('SsoRoleRuleInput')
@ObjectType('SsoRoleRule')
export class SsoRoleRule {
  @Field(() => String, {
    description: `A group (or role) the identity provider sends (${lengthRange(TEXT_LIMITS.ssoGroup)})`,
  })
  group: string;

  @Field(() => String, {
    description:
      'The tenant role its members get: admin, member or user, or a custom role of the tenant by id or name (kept as its id; given on top of the system role user)',
  })
  role: string;
}

@ObjectType({
  description: "A tenant's identity provider; members sign in through it and are created on their first sign-in",
})
export class SsoConnection {
  @Field(() => ID)
  id: string;

  @Field(() => SsoKind)
  kind: SsoKind;

  @Field(() => String)
  name: string;

  @Field(() => Boolean)
  enabled: boolean;

  @Field(() => [SsoRoleRule], { description: 'First matching rule wins' })
  roleMapping: SsoRoleRule[];

  @Field(() => String, { description: 'Role of people none of whose groups match' })
  defaultRole: string;

  @Field(() => [String], {
    description: 'E-mail domains this provider may sign in (while the tenant holds them verified)',
  })
  allowedDomains: string[];

  @Field(() => String, {
    nullable: true,
    description: 'Where a finished sign-in goes (?code=…); default APP_URL/sso/callback',
  })
  redirectUrl: string | null;

  @Field(() => String, { description: 'Where a sign-in starts (relative to the gateway)' })
  loginPath: string;

  @Field(() => String, { nullable: true, description: 'OIDC: the issuer' })
  issuer: string | null;

  @Field(() => String, { nullable: true, description: 'OIDC: register this redirect URI (callback) at the provider' })
  callbackPath: string | null;

  @Field(() => String, { nullable: true, description: 'SAML: our entity id (the audience the IdP must name)' })
  spEntityId: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'SAML: our Assertion Consumer Service (relative to the gateway)',
  })
  acsPath: string | null;

  @Field(() => String, { nullable: true, description: 'SAML: our service provider metadata (relative to the gateway)' })
  metadataPath: string | null;

  @Field(() => String, { nullable: true, description: 'SAML: the IdP entity id' })
  idpEntityId: string | null;

  @Field(() => Date)
  createdAt: Date;
}

/** What every connection has besides its provider's settings. */
@InputType()
export class SsoConnectionOptions {
  @Field(() => [SsoRoleRule], {
    nullable: true,
    description: 'Group-to-role rules; the first whose group the provider sends applies',
  })
  roleMapping?: SsoRoleRule[] | null;

  @Field(() => String, {
    nullable: true,
    description: 'Role when no rule applies (admin, member or user; default member)',
  })
  defaultRole?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Where a finished sign-in goes with ?code= (default APP_URL/sso/callback)',
  })
  redirectUrl?: string | null;

  @Field(() => [String], {
    nullable: true,
    description:
      'E-mail domains this provider may sign in (required when creating): domains the tenant has verified, or their subdomains, e.g. ["example.com"]',
  })
  allowedDomains?: string[] | null;
}

@InputType()
export class SamlConnectionInput extends SsoConnectionOptions {
  @Field(() => String, {
    description: `${lengthRange(TEXT_LIMITS.ssoConnectionName)}; control and bidirectional formatting characters are removed`,
  })
  name: string;

  @Field(() => String, {
    nullable: true,
    description: "The IdP's metadata XML (gives entity id, SSO URL and signing certificate)",
  })
  metadataXml?: string | null;

  @Field(() => String, {
    nullable: true,
    description: `The IdP entity id, without metadata (${lengthRange(TEXT_LIMITS.ssoIdentifier)})`,
  })
  idpEntityId?: string | null;

  @Field(() => String, { nullable: true, description: 'The IdP single sign-on URL (HTTP-Redirect binding)' })
  ssoUrl?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'The IdP signing certificate (PEM or base64 DER); the only key its responses are checked with',
  })
  certificate?: string | null;
}

@InputType()
export class OidcConnectionInput extends SsoConnectionOptions {
  @Field(() => String, {
    description: `${lengthRange(TEXT_LIMITS.ssoConnectionName)}; control and bidirectional formatting characters are removed`,
  })
  name: string;

  @Field(() => String, { description: 'Discovered at <issuer>/.well-known/openid-configuration when saved' })
  issuer: string;

  @Field(() => String, { description: lengthRange(TEXT_LIMITS.ssoIdentifier) })
  clientId: string;

  @Field(() => String, { description: 'Kept sealed; never shown again' })
  clientSecret: string;

  @Field(() => [String], {
    nullable: true,
    description: `At most 20, each ${lengthRange(TEXT_LIMITS.ssoIdentifier)}; default: openid email profile`,
  })
  scopes?: string[] | null;

  @Field(() => String, {
    nullable: true,
    description: `ID token claim holding groups (${lengthRange(TEXT_LIMITS.ssoIdentifier)}; default: groups)`,
  })
  groupsClaim?: string | null;
}

@InputType()
export class UpdateSsoConnectionInput extends SsoConnectionOptions {
  @Field(() => String, {
    nullable: true,
    description: `${lengthRange(TEXT_LIMITS.ssoConnectionName)}; control and bidirectional formatting characters are removed`,
  })
  name?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'A disabled connection signs nobody in' })
  enabled?: boolean | null;
}
