import { createMailTransport } from '../../kernel/mail';
import type { SubgraphDefinition } from '../../kernel/subgraph';
import { consumer } from '../../kernel/contracts/events';
import { MailWorker } from './mail/mail-queue';
import { configurePasswordHashing, releasePasswordHashing, warmUpPasswordHashing } from './passwords/password-hash';
import { ApiKey } from './api-keys/api-key.entity';
import { Invitation } from './invitations/invitation.entity';
import { InvitationResolver } from './invitations/invitation.resolver';
import { CustomRole, Group } from './rbac/rbac.entities';
import { RbacResolver } from './rbac/rbac.resolver';
import { accessOf } from './rbac/rbac.service';
import { IdentityRbac1764288000000 } from '../../migrations/identity/1764288000000-identity-rbac';
import { IdentityEmailVerification1764374400000 } from '../../migrations/identity/1764374400000-identity-email-verification';
import { IdentityUserRole1764460800000 } from '../../migrations/identity/1764460800000-identity-user-role';
import { IdentitySecurityPolicy1764547200000 } from '../../migrations/identity/1764547200000-identity-security-policy';
import { TenantSecurityPolicy } from './policy/security-policy.entity';
import { SecurityPolicyResolver } from './policy/security-policy.resolver';
import { IdentityPlatformAdmins1764633600000 } from '../../migrations/identity/1764633600000-identity-platform-admins';
import { PlatformAdminResolver } from './platform/platform-admin.resolver';
import { IdentitySso1765238400000 } from '../../migrations/identity/1765238400000-identity-sso';
import { IdentitySessionRevocations1765324800000 } from '../../migrations/identity/1765324800000-identity-session-revocations';
import { IdentityApiKeyRevocations1765584000000 } from '../../migrations/identity/1765584000000-identity-api-key-revocations';
import { IdentitySsoCustomRoles1765411200000 } from '../../migrations/identity/1765411200000-identity-sso-custom-roles';
import { IdentityRegistrations1765497600000 } from '../../migrations/identity/1765497600000-identity-registrations';
import { IdentityRegistrationHolder1765600000000 } from '../../migrations/identity/1765600000000-identity-registration-holder';
import { IdentityAsciiDomains1765600100000 } from '../../migrations/identity/1765600100000-identity-ascii-domains';
import { IdentityForgetAttempts1765600200000 } from '../../migrations/identity/1765600200000-identity-forget-attempts';
import { IdentityTenantDomains1765600300000 } from '../../migrations/identity/1765600300000-identity-tenant-domains';
import { SsoResolver } from './sso/sso.resolver';
import { SsoLoginService } from './sso/sso-login.service';
import { IdentitySignIn1764720000000 } from '../../migrations/identity/1764720000000-identity-sign-in';
import { IdentityImpersonation1764806400000 } from '../../migrations/identity/1764806400000-identity-impersonation';
import { IdentityModulePermissions1764892800000 } from '../../migrations/identity/1764892800000-identity-module-permissions';
import { IdentityPasswordLength1764979200000 } from '../../migrations/identity/1764979200000-identity-password-length';
import { IdentityMailBranding1765065600000 } from '../../migrations/identity/1765065600000-identity-mail-branding';
import { moduleInstalled, moduleUninstalled } from './rbac/module-permissions';
import { IdentityInvitations1764201600000 } from '../../migrations/identity/1764201600000-identity-invitations';
import { ApiKeyResolver } from './api-keys/api-key.resolver';
import { ApiKeyService } from './api-keys/api-key.service';
import { IdentityApiKeys1764115200000 } from '../../migrations/identity/1764115200000-identity-api-keys';
import { TotpResolver } from './totp/totp.resolver';
import { IdentityTotp1763942400000 } from '../../migrations/identity/1763942400000-identity-totp';
import { IdentityThrottle1764028800000 } from '../../migrations/identity/1764028800000-identity-throttle';
import { IdentityPasswords1763856000000 } from '../../migrations/identity/1763856000000-identity-passwords';
import { IdentityInit1763683200000 } from '../../migrations/identity/1763683200000-identity-init';
import { AuthResolver } from './auth/auth.resolver';
import { AuditEvent } from './audit/audit-event.entity';
import { AuditResolver } from './audit/audit.resolver';
import { RefreshToken, Session } from './sessions/session.entity';
import { SessionService } from './sessions/session.service';
import { LiveSessionMiddleware } from './sessions/live-session';
import { REVOCATIONS_CALL } from '../../kernel/session-revocations';
import { IdentitySessionsAudit1763769600000 } from '../../migrations/identity/1763769600000-identity-sessions-audit';
import { IdentityMembership } from './users/membership.entity';
import { User } from './users/user.entity';
import {
  addTenantOwner,
  auditTenantChange,
  auditBillingChange,
  rememberBranding,
  rememberDomain,
} from './users/tenant-events';
import { UserResolver, userReferenceResolver } from './users/user.resolver';

/** Accounts, credentials, sessions and roles. */
export const identitySubgraph: SubgraphDefinition = {
  name: 'identity',
  entities: [
    User,
    IdentityMembership,
    Session,
    RefreshToken,
    AuditEvent,
    ApiKey,
    Invitation,
    CustomRole,
    Group,
    TenantSecurityPolicy,
  ],
  migrations: [
    IdentityInit1763683200000,
    IdentitySessionsAudit1763769600000,
    IdentityPasswords1763856000000,
    IdentityTotp1763942400000,
    IdentityThrottle1764028800000,
    IdentityApiKeys1764115200000,
    IdentityInvitations1764201600000,
    IdentityRbac1764288000000,
    IdentityEmailVerification1764374400000,
    IdentityUserRole1764460800000,
    IdentitySecurityPolicy1764547200000,
    IdentityPlatformAdmins1764633600000,
    IdentitySignIn1764720000000,
    IdentityImpersonation1764806400000,
    IdentityModulePermissions1764892800000,
    IdentityPasswordLength1764979200000,
    IdentityMailBranding1765065600000,
    IdentitySso1765238400000,
    IdentitySessionRevocations1765324800000,
    IdentitySsoCustomRoles1765411200000,
    IdentityRegistrations1765497600000,
    IdentityApiKeyRevocations1765584000000,
    IdentityRegistrationHolder1765600000000,
    IdentityAsciiDomains1765600100000,
    IdentityForgetAttempts1765600200000,
    IdentityTenantDomains1765600300000,
  ],
  middlewares: [LiveSessionMiddleware],
  resolvers: [
    AuthResolver,
    UserResolver,
    AuditResolver,
    TotpResolver,
    ApiKeyResolver,
    InvitationResolver,
    RbacResolver,
    SecurityPolicyResolver,
    PlatformAdminResolver,
    SsoResolver,
  ],
  hooks: (deps) => {
    const sso = new SsoLoginService(deps);
    return (req) => sso.handle(req);
  },
  referenceResolvers: userReferenceResolver,
  consumers: () => [
    consumer({ name: 'tenant-owner', types: ['tenancy.tenant_created'], handle: addTenantOwner }),
    consumer({
      name: 'tenant-audit',
      types: ['tenancy.tenant_updated', 'tenancy.tenant_status_changed', 'tenancy.settings_changed'],
      handle: auditTenantChange,
    }),
    consumer({ name: 'module-installed', types: ['tenancy.module_installed'], handle: moduleInstalled }),
    consumer({ name: 'billing-audit', types: ['commerce.billing_changed'], handle: auditBillingChange }),
    consumer({ name: 'tenant-branding', types: ['tenancy.branding_changed'], handle: rememberBranding }),
    consumer({ name: 'module-uninstalled', types: ['tenancy.module_uninstalled'], handle: moduleUninstalled }),
    consumer({
      name: 'tenant-domains',
      types: ['tenancy.domain_verified', 'tenancy.domain_released'],
      handle: rememberDomain,
    }),
  ],
  internal: (deps) => {
    const keys = new ApiKeyService(deps);
    const sessions = new SessionService(deps);
    return {
      'verify-api-key': ({ key }) => keys.verify(key),
      'effective-permissions': (who) => accessOf(deps, who),
      [REVOCATIONS_CALL]: (query) => sessions.revocations(query),
    };
  },
  background: (deps) => {
    const { mail, database } = deps.config;
    const worker = new MailWorker(
      deps.ds,
      createMailTransport({ smtpUrl: mail.SMTP_URL, from: mail.MAIL_FROM, dataDir: database.NEXUS_DATA_DIR }),
    );
    worker.start();
    configurePasswordHashing(deps.config.auth.PASSWORD_HASHING);
    void warmUpPasswordHashing().catch(() => undefined);
    return {
      async stop() {
        await worker.stop();
        await releasePasswordHashing();
      },
    };
  },
};
