import type { RequestContext } from '../kernel/context';
import type { PubSub } from '../kernel/pubsub';
import { PERMISSIONS_CHANGED_TOPIC } from '../kernel/contracts/topics';
import type { InternalClient } from './internal-client';
import type { InternalResponse } from '../kernel/contracts/internal-calls';
import { TtlCache } from './ttl-cache';

type Access = NonNullable<InternalResponse<'effective-permissions'>>;

/** How long a member's rights are cached (dropped sooner when identity announces a change). */
export const RIGHTS_CACHE_MS = 60_000;

/**
 * Current roles and permissions of a signed-in member, from identity: a role change applies to the next
 * request (identity announces changes; the short cache is a backstop), not at token expiry. Tenant rules
 * (2FA required, address not confirmed) come back as restrictions that cut the rights down meanwhile.
 */
export class PermissionResolver {
  private readonly cache = new TtlCache<{ access: Access | null }>(50_000);
  private readonly stop: () => void;

  constructor(
    private readonly identity: InternalClient<'identity'>,
    pubsub: PubSub,
  ) {
    this.stop = pubsub.listen(PERMISSIONS_CHANGED_TOPIC, ({ tenantId }) => {
      this.cache.deleteWhere((key) => key.startsWith(`${tenantId}:`));
    });
  }

  /** The context with current rights; null when the account is no longer a member of the tenant. */
  async refresh(ctx: RequestContext): Promise<RequestContext | null> {
    if (!ctx.tenantId || !ctx.userId || (ctx.authMethod !== 'password' && ctx.authMethod !== 'sso')) return ctx;
    // A Super Admin inside a tenant they do not belong to is known by the session that let them in.
    // Rights differ by how the person signed in (single sign-on never carries platform rights).
    const key = ctx.impersonatorId
      ? `${ctx.tenantId}:${ctx.userId}:${ctx.sessionId}`
      : `${ctx.tenantId}:${ctx.userId}:${ctx.authMethod}`;
    let entry = this.cache.get(key);
    if (!entry) {
      const access = await this.identity.call('effective-permissions', {
        tenantId: ctx.tenantId,
        userId: ctx.userId,
        sessionId: ctx.impersonatorId ? ctx.sessionId : undefined,
        authMethod: ctx.authMethod,
      });
      entry = this.cache.set(key, { access }, RIGHTS_CACHE_MS);
    }
    if (!entry.access) return null;
    const { roles, permissions, restrictions } = entry.access;
    return { ...ctx, roles, permissions, ...(restrictions?.length ? { restrictions } : {}) };
  }

  close(): void {
    this.stop();
  }
}
