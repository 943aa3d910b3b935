import type { EntityManager } from 'typeorm';
import type { MiddlewareInterface, NextFn, ResolverData } from 'type-graphql';
import { isPublicRootField } from '../../../kernel/auth';
import { currentContext, type RequestContext } from '../../../kernel/context';
import { withUser } from '../../../kernel/db/tenant-scope';
import { unauthenticated } from '../../../kernel/errors';
import type { SubgraphDeps } from '../../../kernel/subgraph';

/**
 * Refuses a caller whose session is no longer open (revoked or expired), read from `identity.sessions`
 * itself: gateways learn of a revocation within REVOCATION_POLL_MS, and in that window an access token of
 * a revoked session must not open a new session, key or second factor that would outlive it. With `lock`
 * (inside the transaction that issues the credential), the row is held FOR SHARE until it commits, so a
 * revocation of the session waits for it and the two cannot cross.
 */
export async function requireLiveSession(
  em: EntityManager,
  ctx: RequestContext,
  options: { lock: boolean },
): Promise<void> {
  if (!ctx.sessionId) return;
  const rows: unknown[] = await em.query(
    `SELECT 1 FROM identity.sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()${options.lock ? ' FOR SHARE' : ''}`,
    [ctx.sessionId, ctx.userId],
  );
  if (rows.length === 0) throw unauthenticated('This session has been signed out');
}

/**
 * Every identity mutation made with a session (other than the public ones, and `logout`, which stays idempotent)
 * is refused once the session ended.
 */
export class LiveSessionMiddleware implements MiddlewareInterface {
  constructor(private readonly deps: SubgraphDeps) {}

  async use({ info }: ResolverData, next: NextFn): Promise<unknown> {
    if (info.parentType.name === 'Mutation' && !isPublicRootField(info.fieldName) && info.fieldName !== 'logout') {
      const ctx = currentContext();
      if (ctx.sessionId && ctx.userId)
        await withUser(this.deps.ds, ctx.userId, (em) => requireLiveSession(em, ctx, { lock: false }));
    }
    return next();
  }
}
