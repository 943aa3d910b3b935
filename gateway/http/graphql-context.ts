import type express from 'express';
import { forbidden, unauthenticated } from '../../kernel/errors';
import { authenticate } from '../authenticate';
import type { GatewayContext } from '../gateway-context';
import type { GatewayServices } from '../gateway-services';

/**
 * The context of a GraphQL request over HTTP: its caller authenticated (bearer token or API key), the tenant of a
 * verified custom domain applied, a revoked session, an unknown tenant or a former member refused, and the
 * caller's current rights.
 */
export function graphqlContext({
  auth,
  hosts,
  revocations,
  guard,
  tenantStatus,
  permissions,
}: GatewayServices): (args: { req: express.Request }) => Promise<GatewayContext> {
  return async ({ req }) => {
    let authenticated = await authenticate(req.headers, auth, req.ip ?? null);
    // A verified custom domain names the tenant: for anonymous callers (login pages), and it must
    // agree with the tenant of a token.
    const hostTenant = await hosts.tenantFor(req.hostname);
    if (hostTenant && authenticated.tenantId && authenticated.tenantId !== hostTenant)
      throw forbidden('This domain belongs to another tenant', 403);
    if (hostTenant && !authenticated.tenantId) authenticated = { ...authenticated, tenantId: hostTenant };
    if (authenticated.sessionId) await revocations.ensureCurrent();
    if (guard.isRevoked(authenticated.sessionId)) throw unauthenticated('This session has been signed out', 401);
    const status = authenticated.tenantId ? await tenantStatus.status(authenticated.tenantId) : 'active';
    if (status === 'unknown') throw forbidden('This tenant does not exist', 403);
    const ctx = await permissions.refresh(authenticated);
    if (!ctx) throw forbidden('You are no longer a member of this tenant', 403);
    return { ctx, tenantStatus: status };
  };
}
