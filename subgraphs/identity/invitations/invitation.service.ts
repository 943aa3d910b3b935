import { randomBytes, randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { hasPermission } from '../../../kernel/auth';
import type { RequestContext } from '../../../kernel/context';
import { withNoTenant, withTenant } from '../../../kernel/db/tenant-scope';
import { recordEvent } from '../../../kernel/events';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { audit, auditSeparately } from '../audit/audit.service';
import { AuditResult } from '../audit/audit-event.entity';
import type { AuthPayload } from '../auth/auth.inputs';
import { IdentityErrorCode, identityError } from '../identity.errors';
import { passwordRefused } from '../policy/security-policy.service';
import { enqueueMail } from '../mail/mail-queue';
import { mailBrandingOf } from '../users/tenant-events';
import { hashPassword, verifyPassword } from '../passwords/password-hash';
import { checkPasswordPolicy, requiredPasswordLength } from '../passwords/password-policy';
import { SessionService, sha256 } from '../sessions/session.service';
import { IdentityMembership } from '../users/membership.entity';
import { permissionsFor } from '../rbac/permissions';
import { normaliseEmail } from '../users/email';
import { User } from '../users/user.entity';
import { TotpService } from '../totp/totp.service';
import { Invitation, type AcceptInvitationInput, type InviteUserInput } from './invitation.entity';
import { returningRows } from '../../../kernel/db/values';
import {
  admissionOf,
  admissionRefusal,
  allowanceOf,
  noteEffect,
  quotaExceeded,
  spend,
} from '../../../kernel/admission';

const INVITABLE_ROLES = ['admin', 'member', 'user'];
const TTL_DAYS = 7;

export class InvitationService {
  private readonly sessions: SessionService;

  constructor(private readonly deps: SubgraphDeps) {
    this.sessions = new SessionService(deps);
  }

  async invite(ctx: RequestContext, input: InviteUserInput): Promise<Invitation> {
    const email = normaliseEmail(input.email);
    if (input.role === 'owner') {
      await auditSeparately(this.deps.ds, ctx, ctx.tenantId!, {
        action: 'invite',
        result: AuditResult.FAILURE,
        target: `email:${email}`,
        details: { role: 'owner' },
      });
      throw identityError(IdentityErrorCode.PERMISSION_ESCALATION, 'Ownership cannot be given by invitation');
    }
    if (!INVITABLE_ROLES.includes(input.role)) throw identityError(IdentityErrorCode.UNKNOWN_ROLE);
    const beyond = permissionsFor([input.role]).filter((p) => !hasPermission(ctx, p));
    if (beyond.length) {
      await auditSeparately(this.deps.ds, ctx, ctx.tenantId!, {
        action: 'invite',
        result: AuditResult.FAILURE,
        target: `email:${email}`,
        details: { role: input.role, beyond },
      });
      throw identityError(
        IdentityErrorCode.PERMISSION_ESCALATION,
        `You cannot invite someone with rights you lack: ${beyond.join(', ')}`,
      );
    }
    const token = randomBytes(32).toString('base64url');
    const link = new URL('/accept-invitation', this.deps.config.mail.APP_URL);
    link.searchParams.set('token', token);
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      // Invitations not yet accepted hold room too: no more of them than the members limit leaves.
      const members = allowanceOf(tenantId, 'members', 'inviteUser');
      if (members) {
        const [{ n }]: { n: number }[] = await em.query(
          `SELECT count(*)::int AS n FROM identity.invitations WHERE tenant_id = $1 AND accepted_at IS NULL AND expires_at > now()`,
          [tenantId],
        );
        if (n + 1 > members.room) throw quotaExceeded('members', members.limit);
      }
      const id = randomUUID();
      await em.insert(Invitation, {
        tenantId,
        id,
        email,
        role: input.role,
        tokenHash: sha256(token),
        invitedBy: ctx.userId!,
        expiresAt: new Date(Date.now() + TTL_DAYS * 86_400_000),
        acceptedAt: null,
        acceptedBy: null,
      });
      // In the tenant's own name when it has branding.
      const brand = await mailBrandingOf(em, tenantId);
      await enqueueMail(em, {
        to: email,
        subject: brand.displayName ? `You are invited to ${brand.displayName}` : 'You are invited to Nexus Platform',
        text: `You have been invited to join ${brand.displayName ?? 'a workspace'} as ${input.role}.\n\nTo accept, open:\n${link}\n\nThe link works once, for ${TTL_DAYS} days.\n`,
        fromName: brand.senderName,
      });
      await audit(em, ctx, tenantId, {
        action: 'invite',
        result: AuditResult.SUCCESS,
        target: `email:${email}`,
        details: { role: input.role },
      });
      return em.findOneByOrFail(Invitation, { tenantId, id });
    });
  }

  /**
   * Joins the inviting tenant: creates the account if the address has none (else checks its password). Refused
   * while the tenant is suspended, expired or deleted, and when its members limit is reached.
   */
  async accept(ctx: RequestContext, input: AcceptInvitationInput): Promise<AuthPayload> {
    const { tenantId, invitation } = await this.invitationFor(ctx, input);
    const { userId, newHash } = await this.credentials(invitation, tenantId, input);
    const scope = { ...ctx, tenantId, userId };
    const result = await withTenant(this.deps.ds, scope, (em) => this.join(em, scope, invitation, newHash));
    noteEffect(tenantId, 'members');
    await this.deps.outbox.deliverNow([result.event]);
    if (result.ssoOnly)
      throw identityError(
        IdentityErrorCode.SSO_REQUIRED,
        'You joined the tenant: sign in through its identity provider',
      );
    if (!result.payload) throw await new TotpService(this.deps).challenge(userId, tenantId);
    return result.payload;
  }

  /** The invitation the token names, once its tenant admits joining (else INVALID_TOKEN or the refusal). */
  private async invitationFor(
    ctx: RequestContext,
    input: AcceptInvitationInput,
  ): Promise<{ tenantId: string; invitation: Invitation }> {
    const hash = sha256(typeof input.token === 'string' ? input.token : '');
    const rows: { tenant_id: string | null }[] = await withNoTenant(this.deps.ds, (em) =>
      em.query('SELECT identity.invitation_tenant($1) AS tenant_id', [hash]),
    );
    const tenantId = rows[0]?.tenant_id;
    if (!tenantId) throw identityError(IdentityErrorCode.INVALID_TOKEN);
    // Joining is admitted like any call into the tenant (its status, its members limit), asked of the gateway first.
    const refused = admissionRefusal(admissionOf(tenantId, 'acceptInvitation'));
    if (refused) throw refused;
    const invitation = await withTenant(this.deps.ds, { ...ctx, tenantId, userId: null }, (em) =>
      em.findOneBy(Invitation, { tenantId, tokenHash: hash }),
    );
    if (!invitation) throw identityError(IdentityErrorCode.INVALID_TOKEN);
    return { tenantId, invitation };
  }

  /** The existing account of the invited address (its password checked), or a new one's id and password hash. */
  private async credentials(
    invitation: Invitation,
    tenantId: string,
    input: AcceptInvitationInput,
  ): Promise<{ userId: string; newHash: string | null }> {
    const existing: { user_id: string; password_hash: string }[] = await withNoTenant(this.deps.ds, (em) =>
      em.query('SELECT user_id, password_hash FROM identity.credentials_for_login($1)', [invitation.email]),
    );
    let userId: string;
    let newHash: string | null = null;
    if (existing[0]) {
      if (!(await verifyPassword(existing[0].password_hash, input.password ?? '')))
        throw identityError(IdentityErrorCode.INVALID_CREDENTIALS);
      userId = existing[0].user_id;
    } else {
      checkPasswordPolicy(
        input.password,
        invitation.email,
        await withNoTenant(this.deps.ds, (em) => requiredPasswordLength(em, null, tenantId)),
      );
      userId = randomUUID();
      newHash = await hashPassword(input.password);
    }
    return { userId, newHash };
  }

  /** In the tenant's transaction: claims the invitation, creates the account if new, adds the membership. */
  private async join(
    em: EntityManager,
    scope: RequestContext & { tenantId: string; userId: string },
    invitation: Invitation,
    newHash: string | null,
  ) {
    const { tenantId, userId } = scope;
    await this.claim(em, invitation, tenantId, userId, newHash);
    const already = await em.findOneBy(IdentityMembership, { tenantId, userId });
    if (already) throw identityError(IdentityErrorCode.ALREADY_A_MEMBER);
    spend(tenantId, 'members', 'acceptInvitation');
    await em.insert(IdentityMembership, { tenantId, userId, role: invitation.role });
    const event = await recordEvent(em, 'identity', {
      type: 'identity.member_added',
      tenantId,
      payload: { tenantId, userId, role: invitation.role },
    });
    await audit(em, scope, tenantId, {
      action: 'invitation_accept',
      result: AuditResult.SUCCESS,
      target: `user:${userId}`,
      details: { role: invitation.role },
    });
    const user = await em.findOneByOrFail(User, { id: userId });
    // No session from a password where the tenant signs its members in through its identity provider
    // (they join, then use single sign-on), nor for an account with two-factor sign-in (it joins, then signs in).
    const ssoOnly = await passwordRefused(em, tenantId, invitation.role);
    const payload =
      ssoOnly || (await TotpService.isEnabled(em, userId))
        ? null
        : await this.sessions.open(em, scope, user, tenantId, invitation.role, 'login');
    return { payload, event, ssoOnly };
  }

  /** Marks the invitation accepted (once, before it expires) and creates the account when `newHash` is set. */
  private async claim(
    em: EntityManager,
    invitation: Invitation,
    tenantId: string,
    userId: string,
    newHash: string | null,
  ): Promise<void> {
    const claimed = await em.query(
      `UPDATE identity.invitations SET accepted_at = now(), accepted_by = $3 WHERE tenant_id = $1 AND id = $2 AND accepted_at IS NULL AND expires_at > now() RETURNING id`,
      [tenantId, invitation.id, userId],
    );
    if (returningRows(claimed).length === 0) throw identityError(IdentityErrorCode.INVALID_TOKEN);
    if (newHash) {
      // The invitation link reached this address: it is confirmed.
      await em.insert(
        User,
        em.create(User, { id: userId, email: invitation.email, passwordHash: newHash, emailVerifiedAt: new Date() }),
      );
      await em.query(`INSERT INTO identity.password_history (user_id, password_hash) VALUES ($1, $2)`, [
        userId,
        newHash,
      ]);
    }
  }
}
