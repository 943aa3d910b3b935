import { randomBytes, randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { AdmissionRequired, noteEffect, spend } from '../../../kernel/admission';
import { systemContext, type RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { isUuid, returningRows } from '../../../kernel/db/values';
import { AppError } from '../../../kernel/errors';
import { recordEvent } from '../../../kernel/events';
import { announce } from '../../../kernel/pubsub';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { PERMISSIONS_CHANGED_TOPIC } from '../../../kernel/contracts/topics';
import { AuditResult } from '../audit/audit-event.entity';
import { audit } from '../audit/audit.service';
import { hashPassword } from '../passwords/password-hash';
import { isSystemRole } from '../rbac/permissions';
import { IdentityMembership } from '../users/membership.entity';
import { User } from '../users/user.entity';
import { tenantHoldsDomainSql, type ConnectionRow } from './sso-connections.service';
import { SsoRefusal } from './sso-login.errors';
import type { Claims } from './sso-login.types';

/** A member added by a sign-in is admitted like an accepted invitation: the tenant's status and members limit. */
function admitMember(tenantId: string): void {
  try {
    spend(tenantId, 'members', 'acceptInvitation');
  } catch (err) {
    if (!(err instanceof AppError) || err instanceof AdmissionRequired) throw err;
    const code = String(err.extensions.code);
    if (code !== 'QUOTA_EXCEEDED') throw new SsoRefusal(403, code, `${err.message}: nobody new can join it now`);
    throw new SsoRefusal(429, code, 'This tenant has reached its members limit: ask an admin of this tenant');
  }
}

/** The account a sign-in is for, decided before anything is written. */
export interface SsoAccount {
  userId: string;
  /** The provider signed this account in before (its subject is linked to it). */
  known: boolean;
  /** A new account (nobody has the address). */
  created: boolean;
  /** The password hash of a new account: of a password nobody knows. */
  unusableHash: string | null;
  /** The system role the mapping gives (`user` under a custom role). */
  mapped: string;
  /** The custom role (by id) the mapping gives, if any. */
  customRole: string | null;
}

/** What linking wrote: the role the account has here, and what the gateways and the outbox must learn after commit. */
export interface SsoLinkOutcome {
  role: string;
  provisioned: boolean;
  joined: boolean;
  roleChanged: boolean;
  events: string[];
}

type Identified = {
  known: string | null;
  by_email: string | null;
  role: string | null;
  platform: boolean;
  custom_role: boolean;
};

/**
 * Who a finished sign-in is: only addresses of domains the tenant verified, never a platform administrator, an
 * existing account only if the provider signed it in before or it is already a member (not the owner); first use
 * provisions the account and membership (admitted like an accepted invitation: refused while the tenant is
 * suspended, expired or deleted, or at its members limit); every sign-in applies the connection's group mapping.
 */
export class SsoAccountLinkService {
  constructor(private readonly deps: SubgraphDeps) {}

  /** The account to sign in, or a refusal. Reads only. */
  async resolve(connection: ConnectionRow, claims: Claims): Promise<SsoAccount> {
    await this.checkAddress(connection, claims);
    const { customRole, mapped } = this.mapRole(connection, claims);
    const found = await this.identify(connection, claims, customRole);
    const known = found.known ? { user_id: found.known } : undefined;
    const byEmail = !known && found.by_email ? [{ user_id: found.by_email }] : [];
    // A provider vouches for its own tenant's people only: an existing account it has not signed in
    // before is joined to it only if it is already a member here, not an owner, and holds no platform rights.
    if (found.platform)
      throw new SsoRefusal(403, 'SSO_ACCOUNT_RESERVED', 'This account cannot sign in through an identity provider');
    if (customRole && !found.custom_role) {
      throw new SsoRefusal(
        403,
        'SSO_ROLE_UNKNOWN',
        "The role this connection's mapping gives no longer exists: an admin of this tenant must correct the mapping",
      );
    }
    if (!known && byEmail[0] && (!found.role || found.role === 'owner')) {
      throw new SsoRefusal(
        409,
        'SSO_ACCOUNT_EXISTS',
        'An account with this e-mail address already exists: ask an admin of this tenant to invite it first',
      );
    }
    const userId = known?.user_id ?? byEmail[0]?.user_id ?? randomUUID();
    const created = !known && !byEmail[0];
    // An account made here has no password anyone knows: it signs in through its provider (or resets one).
    const unusableHash = created ? await hashPassword(randomBytes(32).toString('base64url')) : null;
    return { userId, known: !!known, created, unusableHash, mapped, customRole };
  }

  /** Creates the account, links the provider's subject, and applies membership and roles (in the caller's transaction). */
  async link(
    em: EntityManager,
    ctx: RequestContext,
    connection: ConnectionRow,
    claims: Claims,
    account: SsoAccount,
  ): Promise<SsoLinkOutcome> {
    const tenantId = connection.tenant_id;
    const { userId, created, unusableHash } = account;
    if (created)
      await em.insert(
        User,
        em.create(User, {
          id: userId,
          email: claims.email,
          passwordHash: unusableHash!,
          emailVerifiedAt: new Date(),
        }),
      );
    if (!account.known) {
      await em.query(
        `INSERT INTO identity.sso_identities (tenant_id, connection_id, subject, user_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
        [tenantId, connection.id, claims.subject, userId],
      );
    }
    const member = await this.syncMembership(em, ctx, tenantId, userId, account.mapped);
    const rolesChanged =
      member.role !== 'owner' && (await this.syncCustomRoles(em, ctx, connection, userId, account, member.existed));
    return {
      role: member.role,
      provisioned: created || !member.existed,
      joined: !member.existed,
      roleChanged: member.roleChanged || rolesChanged,
      events: member.events,
    };
  }

  /** After commit: the members count, the events, and (when a role changed) the gateways read the tenant's rights again. */
  async publish(tenantId: string, outcome: SsoLinkOutcome): Promise<void> {
    const { joined, events, roleChanged } = outcome;
    if (joined) noteEffect(tenantId, 'members');
    if (events.length) await this.deps.outbox.deliverNow(events);
    // The provider changed their role: gateways read the tenant's rights again (open sockets reconnect).
    if (roleChanged) await announce(this.deps.pubsub, PERMISSIONS_CHANGED_TOPIC, [{ tenantId }]);
  }

  /** Only addresses of the connection's domains, while the tenant still holds the domain; never a platform administrator's. */
  private async checkAddress(connection: ConnectionRow, claims: Claims): Promise<void> {
    const tenantId = connection.tenant_id;
    const domain = claims.email.split('@')[1];
    if (!connection.allowed_domains.includes(domain)) {
      throw new SsoRefusal(
        403,
        'SSO_DOMAIN_NOT_ALLOWED',
        'This identity provider may not sign in addresses of that domain',
      );
    }
    // Only while the tenant still holds the domain (a verified domain can be removed or fail its recheck): before
    // anything about existing accounts is looked at.
    const [holds]: { held: boolean }[] = await withTenant(this.deps.ds, systemContext('sso', tenantId), (em) =>
      em.query(`SELECT ${tenantHoldsDomainSql('$1', '$2')} AS held`, [tenantId, domain]),
    );
    if (!holds?.held)
      throw new SsoRefusal(
        403,
        'SSO_DOMAIN_NOT_ALLOWED',
        'This tenant no longer holds a verified domain for that address',
      );
    if (this.deps.config.auth.SUPER_ADMIN_EMAILS.includes(claims.email)) {
      // Platform administrators sign in with their own credentials only.
      throw new SsoRefusal(403, 'SSO_ACCOUNT_RESERVED', 'This account cannot sign in through an identity provider');
    }
  }

  private mapRole(connection: ConnectionRow, claims: Claims): { customRole: string | null; mapped: string } {
    const rule = connection.role_mapping.find((r) => claims.groups.includes(r.group));
    // A system role as the mapping says; a custom role (stored by id) on top of the system role `user`.
    const given = rule?.role ?? connection.default_role;
    const customRole = isSystemRole(given) ? null : given;
    const mapped = customRole ? 'user' : given;
    return { customRole, mapped };
  }

  /**
   * Who this is, in one read: the account the provider signed in before, else one with the address,
   * and that account's role here and platform rights; and whether the custom role mapped to still exists.
   */
  private async identify(connection: ConnectionRow, claims: Claims, customRole: string | null): Promise<Identified> {
    const tenantId = connection.tenant_id;
    const [found]: Identified[] = await withTenant(this.deps.ds, systemContext('sso', tenantId), (em) =>
      em.query(
        `WITH who AS (
             SELECT (SELECT user_id FROM identity.sso_identities WHERE tenant_id = $1 AND connection_id = $2 AND subject = $3) AS known,
                    (SELECT user_id FROM identity.credentials_for_login($4)) AS by_email)
           SELECT who.known, who.by_email,
                  (SELECT role FROM identity.memberships WHERE tenant_id = $1 AND user_id = coalesce(who.known, who.by_email)) AS role,
                  EXISTS (SELECT 1 FROM identity.platform_admins WHERE user_id = coalesce(who.known, who.by_email)) AS platform,
                  EXISTS (SELECT 1 FROM identity.roles WHERE tenant_id = $1 AND id = $5::uuid) AS custom_role
             FROM who`,
        [tenantId, connection.id, claims.subject, claims.email, isUuid(customRole) ? customRole : null],
      ),
    );
    return found;
  }

  /** A new member (admitted) with the mapped role; an existing one (not the owner) moved to the mapped role. */
  private async syncMembership(
    em: EntityManager,
    ctx: RequestContext,
    tenantId: string,
    userId: string,
    mapped: string,
  ): Promise<{ role: string; existed: boolean; roleChanged: boolean; events: string[] }> {
    const pending: string[] = [];
    let roleChanged = false;
    const membership = await em.findOneBy(IdentityMembership, { tenantId, userId });
    let role = membership?.role ?? mapped;
    if (!membership) {
      admitMember(tenantId);
      await em.insert(IdentityMembership, { tenantId, userId, role });
      pending.push(
        await recordEvent(em, 'identity', {
          type: 'identity.member_added',
          tenantId,
          payload: { tenantId, userId, role },
        }),
      );
    } else if (membership.role !== 'owner' && membership.role !== mapped) {
      await em.update(IdentityMembership, { tenantId, userId }, { role: mapped });
      pending.push(
        await recordEvent(em, 'identity', {
          type: 'identity.member_role_changed',
          tenantId,
          payload: { tenantId, userId, role: mapped },
        }),
      );
      await audit(em, ctx, tenantId, {
        action: 'sso_role_sync',
        result: AuditResult.SUCCESS,
        target: `user:${userId}`,
        details: { before: membership.role, after: mapped },
      });
      role = mapped;
      roleChanged = true;
    }
    return { role, existed: !!membership, roleChanged, events: pending };
  }

  /** The custom role the mapping gives now, and none this connection gave before (roles assigned by hand stay). */
  private async syncCustomRoles(
    em: EntityManager,
    ctx: RequestContext,
    connection: ConnectionRow,
    userId: string,
    { customRole }: SsoAccount,
    membership: boolean,
  ): Promise<boolean> {
    const tenantId = connection.tenant_id;
    const taken = returningRows<{ role_id: string }>(
      await em.query(
        `DELETE FROM identity.user_roles WHERE tenant_id = $1 AND user_id = $2 AND sso_connection_id = $3 AND role_id IS DISTINCT FROM $4::uuid RETURNING role_id`,
        [tenantId, userId, connection.id, customRole],
      ),
    );
    const added = customRole
      ? returningRows<{ role_id: string }>(
          await em.query(
            `INSERT INTO identity.user_roles (tenant_id, user_id, role_id, sso_connection_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING role_id`,
            [tenantId, userId, customRole, connection.id],
          ),
        )
      : [];
    if (taken.length || added.length) {
      if (membership) {
        await audit(em, ctx, tenantId, {
          action: 'sso_role_sync',
          result: AuditResult.SUCCESS,
          target: `user:${userId}`,
          details: { customRolesTaken: taken.map((r) => r.role_id), customRolesGiven: added.map((r) => r.role_id) },
        });
      }
      return true;
    }
    return false;
  }
}
