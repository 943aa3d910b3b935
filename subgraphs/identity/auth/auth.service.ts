import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { IsNull, type EntityManager } from 'typeorm';
import { signAccessToken } from '../../../kernel/access-token';
import { currentRequestState, type RequestContext } from '../../../kernel/context';
import { withNoTenant, withTenant, withUser } from '../../../kernel/db/tenant-scope';
import { recordEvent } from '../../../kernel/events';
import { logger } from '../../../kernel/log';
import { SESSION_REVOKED_TOPIC } from '../../../kernel/topics';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { IdentityErrorCode, identityError } from '../identity.errors';
import { permissionsFor } from '../rbac/permissions';
import { IdentityMembership } from '../users/membership.entity';
import { User } from '../users/user.entity';
import type { AuthPayload, LoginInput, RegisterInput } from './auth.inputs';
import { PASSWORD_MAX, PASSWORD_MIN, burnPasswordCheck, hashPassword, verifyPassword } from './password';
import { Session } from './session.entity';

const log = logger('identity.auth');
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,253}\.[^\s@]{2,}$/;
/** Extension name under which a fresh access token is handed to the gateway for the rest of the operation. */
export const ISSUED_SESSION_EXTENSION = 'nexusIssuedAccessToken';

export class AuthService {
  constructor(private readonly deps: SubgraphDeps) {}

  async register(input: RegisterInput, ctx: RequestContext): Promise<AuthPayload> {
    const email = normaliseEmail(input.email);
    checkPassword(input.password);
    const tenantName = (input.tenantName ?? '').trim() || `${email.split('@')[0]}'s workspace`;
    if (tenantName.length > 100) throw identityError(IdentityErrorCode.INVALID_TENANT_NAME);
    const userId = randomUUID();
    const tenantId = randomUUID();
    const passwordHash = await hashPassword(input.password);
    const scope: RequestContext = { ...ctx, tenantId, userId };
    let user: User;
    let provisioning: string;
    try {
      [user, provisioning] = await withTenant(this.deps.ds, scope, async (em) => {
        const created = em.create(User, { id: userId, email, passwordHash });
        await em.insert(User, created);
        await em.insert(IdentityMembership, { tenantId, userId, role: 'owner' });
        const eventId = await recordEvent(em, 'identity', {
          type: 'identity.tenant_registered',
          tenantId,
          payload: { tenantId, name: tenantName, ownerUserId: userId, ownerEmail: email },
        });
        return [await em.findOneByOrFail(User, { id: userId }), eventId] as const;
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw identityError(IdentityErrorCode.EMAIL_TAKEN);
      throw err;
    }
    // Publish the provisioning event now and wait for its consumers (tenancy creates the tenant), so the
    // new tenant is readable in this same operation.
    await this.deps.outbox.flush();
    if (!(await this.deps.bus.waitConsumed([provisioning], 10_000))) {
      log.warn({ tenantId }, 'tenant provisioning is still pending');
    }
    return this.issueSession(user, tenantId, ['owner'], scope);
  }

  async login(input: LoginInput, ctx: RequestContext): Promise<AuthPayload> {
    const email = (input.email ?? '').trim().toLowerCase();
    const rows: { user_id: string; password_hash: string }[] = await withNoTenant(this.deps.ds, (em) =>
      em.query('SELECT user_id, password_hash FROM identity.credentials_for_login($1)', [email]),
    );
    const found = rows[0];
    const ok = found ? await verifyPassword(found.password_hash, input.password ?? '') : await burnPasswordCheck(input.password ?? '');
    if (!found || !ok) throw identityError(IdentityErrorCode.INVALID_CREDENTIALS);

    const { user, memberships } = await withUser(this.deps.ds, found.user_id, async (em) => ({
      user: await em.findOneByOrFail(User, { id: found.user_id }),
      memberships: await em.find(IdentityMembership, { where: { userId: found.user_id }, order: { createdAt: 'ASC' } }),
    }));
    const membership = input.tenantId ? memberships.find((m) => m.tenantId === input.tenantId) : memberships[0];
    if (!membership) {
      throw identityError(input.tenantId ? IdentityErrorCode.NOT_A_MEMBER : IdentityErrorCode.NO_TENANT);
    }
    return this.issueSession(user, membership.tenantId, [membership.role], { ...ctx, tenantId: membership.tenantId, userId: user.id });
  }

  /** Ends the caller's session: its refresh token stops working and gateways drop it at once. */
  async logout(ctx: RequestContext): Promise<boolean> {
    const sessionId = ctx.sessionId;
    if (!sessionId) return false;
    const revoked = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const result = await em.update(Session, { tenantId, id: sessionId, userId: ctx.userId!, revokedAt: IsNull() }, { revokedAt: new Date() });
      return (result.affected ?? 0) > 0;
    });
    await this.deps.pubsub.publish(SESSION_REVOKED_TOPIC, { sessionId, userId: ctx.userId, tenantId: ctx.tenantId });
    return revoked;
  }

  private async issueSession(user: User, tenantId: string, roles: string[], scope: RequestContext): Promise<AuthPayload> {
    const sessionId = randomUUID();
    const refreshToken = `nxr_${randomBytes(32).toString('base64url')}`;
    const ttl = this.deps.config.auth.REFRESH_TOKEN_TTL_SECONDS;
    await withTenant(this.deps.ds, scope, (em: EntityManager) =>
      em.insert(Session, {
        tenantId,
        id: sessionId,
        userId: user.id,
        refreshTokenHash: sha256(refreshToken),
        expiresAt: new Date(Date.now() + ttl * 1000),
        revokedAt: null,
      }),
    );
    const accessToken = await signAccessToken(
      { sub: user.id, tid: tenantId, sid: sessionId, roles, perms: permissionsFor(roles), amr: 'password' },
      this.deps.keys.access,
      {
        issuer: this.deps.config.auth.JWT_ISSUER,
        audience: this.deps.config.auth.JWT_AUDIENCE,
        ttlSeconds: this.deps.config.auth.ACCESS_TOKEN_TTL_SECONDS,
      },
    );
    currentRequestState().responseExtensions[ISSUED_SESSION_EXTENSION] = accessToken;
    return { accessToken, refreshToken, user, tenant: { id: tenantId } };
  }
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function normaliseEmail(raw: string): string {
  const email = (raw ?? '').trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) throw identityError(IdentityErrorCode.INVALID_EMAIL);
  return email;
}

function checkPassword(password: string): void {
  if (typeof password !== 'string' || password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw identityError(IdentityErrorCode.WEAK_PASSWORD);
  }
}
