import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { announce } from '../../../kernel/pubsub';
import { IsNull } from 'typeorm';
import { hasPermission } from '../../../kernel/auth';
import { isPlatformPermission } from '../../../kernel/contracts/permissions';
import type { RequestContext } from '../../../kernel/context';
import { withNoTenant, withTenant } from '../../../kernel/db/tenant-scope';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { API_KEY_REVOKED_TOPIC } from '../../../kernel/contracts/topics';
import { audit, auditSeparately } from '../audit/audit.service';
import { AuditResult } from '../audit/audit-event.entity';
import { IdentityErrorCode, identityError } from '../identity.errors';
import { applySecurityPolicy } from '../policy/security-policy.service';
import { effectiveAccess } from '../rbac/rbac.service';
import { sha256 } from '../sessions/session.service';
import { ApiKey, type CreateApiKeyInput, type CreatedApiKey } from './api-key.entity';
import { isUuid } from '../../../kernel/db/values';
import { TEXT_LIMITS, cleanName, lengthRange } from '../../../kernel/text';
import { requireLiveSession } from '../sessions/live-session';

/** `nxk_<8 visible>_<secret>`: the prefix finds the key, the whole key is compared by hash. */
const KEY = /^(nxk_[A-Za-z0-9]{8})_([A-Za-z0-9_-]{43})$/;

export interface ApiKeyPrincipal {
  keyId: string;
  tenantId: string;
  userId: string;
  permissions: string[];
}

export class ApiKeyService {
  constructor(private readonly deps: SubgraphDeps) {}

  async create(ctx: RequestContext, input: CreateApiKeyInput): Promise<CreatedApiKey> {
    const name = cleanName(input.name ?? '');
    if (name.length < 1 || name.length > TEXT_LIMITS.apiKeyName)
      throw identityError(IdentityErrorCode.INVALID_API_KEY, `Name must be ${lengthRange(TEXT_LIMITS.apiKeyName)}`);
    const permissions = [...new Set(input.permissions ?? [])].sort();
    if (permissions.length === 0)
      throw identityError(IdentityErrorCode.INVALID_API_KEY, 'An API key needs at least one permission');
    if (permissions.some(isPlatformPermission)) {
      throw identityError(
        IdentityErrorCode.INVALID_API_KEY,
        'Platform rights belong to a Super Admin in person and cannot be given to an API key',
      );
    }
    const beyond = permissions.filter((p) => !/^[a-z-]+:[a-z-*]+$/.test(p) || !hasPermission(ctx, p));
    if (beyond.length > 0 || ctx.authMethod === 'api_key') {
      await auditSeparately(this.deps.ds, ctx, ctx.tenantId!, {
        action: 'api_key_create',
        result: AuditResult.FAILURE,
        details: { beyond },
      });
      throw identityError(
        IdentityErrorCode.PERMISSION_ESCALATION,
        `You cannot grant what you do not have: ${beyond.join(', ') || 'keys cannot create keys'}`,
      );
    }
    if (input.expiresAt && input.expiresAt <= new Date())
      throw identityError(IdentityErrorCode.INVALID_API_KEY, 'Expiry must be in the future');
    const prefix = `nxk_${randomBytes(6).toString('base64url').replace(/[-_]/g, 'x').slice(0, 8)}`;
    const secret = `${prefix}_${randomBytes(32).toString('base64url')}`;
    const apiKey = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      await requireLiveSession(em, ctx, { lock: true });
      const id = randomUUID();
      await em.insert(ApiKey, {
        tenantId,
        id,
        userId: ctx.userId!,
        name,
        prefix,
        secretHash: sha256(secret),
        permissions,
        expiresAt: input.expiresAt ?? null,
      });
      await audit(em, ctx, tenantId, {
        action: 'api_key_create',
        result: AuditResult.SUCCESS,
        target: `api_key:${id}`,
        details: { permissions },
      });
      return em.findOneByOrFail(ApiKey, { tenantId, id });
    });
    return { apiKey, secret };
  }

  /** Your keys; with `users:manage`, every key of the tenant. */
  list(ctx: RequestContext): Promise<ApiKey[]> {
    return withTenant(this.deps.ds, ctx, (em, tenantId) =>
      em.find(ApiKey, {
        where: hasPermission(ctx, 'users:manage')
          ? { tenantId, revokedAt: IsNull() }
          : { tenantId, userId: ctx.userId!, revokedAt: IsNull() },
        order: { createdAt: 'DESC' },
      }),
    );
  }

  async revoke(ctx: RequestContext, id: string): Promise<boolean> {
    const key = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const found = isUuid(id) ? await em.findOneBy(ApiKey, { tenantId, id }) : null;
      if (!found || found.revokedAt || (found.userId !== ctx.userId && !hasPermission(ctx, 'users:manage')))
        return null;
      await em.update(ApiKey, { tenantId, id }, { revokedAt: new Date() });
      await audit(em, ctx, tenantId, {
        action: 'api_key_revoke',
        result: AuditResult.SUCCESS,
        target: `api_key:${id}`,
      });
      return found;
    });
    if (!key) throw identityError(IdentityErrorCode.API_KEY_NOT_FOUND);
    // The revocation is committed: gateways also read it from identity within REVOCATION_POLL_MS.
    await announce(this.deps.pubsub, API_KEY_REVOKED_TOPIC, [{ keyId: key.id, prefix: key.prefix }]);
    return true;
  }

  /**
   * For the gateway: who a presented key acts as. Its permissions are what it was given, cut down to
   * what its creator may still do now (a creator who lost a role takes it away from their keys too).
   */
  async verify(presented: string): Promise<ApiKeyPrincipal | null> {
    const match = KEY.exec(typeof presented === 'string' ? presented : '');
    if (!match) return null;
    const prefix = match[1];
    const rows: { tenant_id: string | null }[] = await withNoTenant(this.deps.ds, (em) =>
      em.query('SELECT identity.api_key_tenant($1) AS tenant_id', [prefix]),
    );
    const tenantId = rows[0]?.tenant_id;
    if (!tenantId) return null;
    const scope: RequestContext = {
      requestId: 'api-key',
      tenantId,
      userId: null,
      sessionId: null,
      roles: [],
      permissions: [],
      authMethod: 'system',
    };
    return withTenant(this.deps.ds, scope, async (em) => {
      const key = await em.findOneBy(ApiKey, { tenantId, prefix });
      if (!key || key.revokedAt || (key.expiresAt && key.expiresAt <= new Date())) return null;
      const expected = Buffer.from(key.secretHash, 'hex');
      const actual = Buffer.from(sha256(presented), 'hex');
      if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return null;
      const access = await effectiveAccess(em, tenantId, key.userId);
      if (!access) return null;
      // A key never does more than its creator may do now, tenant rules included (e.g. 2FA not set up).
      const creator = await applySecurityPolicy(em, tenantId, key.userId, access);
      const permissions = key.permissions.filter((p) =>
        hasPermission({ ...scope, permissions: creator.permissions }, p),
      );
      if (!key.lastUsedAt || Date.now() - key.lastUsedAt.getTime() > 60_000) {
        await em.update(ApiKey, { tenantId, id: key.id }, { lastUsedAt: new Date() });
      }
      return { keyId: key.id, tenantId, userId: key.userId, permissions };
    });
  }
}
