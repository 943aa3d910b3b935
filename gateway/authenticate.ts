import { randomUUID, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { verifyAccessToken, type AccessClaims } from '../kernel/access-token';
import { anonymousContext, type RequestContext } from '../kernel/context';
import { AppError, forbidden, unauthenticated } from '../kernel/errors';
import { ApiKeyAuthenticator } from './api-keys';

export const TENANT_HEADER = 'x-tenant-id';
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface AuthSettings {
  accessPublicKey: KeyObject;
  /** Key id access tokens must name (`kid` header). */
  accessKid?: string;
  issuer: string;
  audience: string;
  /** Resolves API keys (`Authorization: Bearer nxk_…` or `x-api-key`); absent: keys are refused. */
  apiKeys?: ApiKeyAuthenticator;
}

async function authenticateApiKey(
  key: string,
  requestId: string,
  headers: IncomingHttpHeaders,
  settings: AuthSettings,
): Promise<RequestContext> {
  if (!settings.apiKeys || !ApiKeyAuthenticator.looksLikeKey(key)) throw unauthenticated('API key is invalid', 401);
  const ctx = await settings.apiKeys.authenticate(key, requestId);
  if (ctx === 'rate_limited')
    throw new AppError('RATE_LIMITED', 'This API key has used up its request rate; slow down', {}, 429);
  if (!ctx) throw unauthenticated('API key is invalid, expired or revoked', 401);
  const requested = headers[TENANT_HEADER];
  if (requested !== undefined && requested !== ctx.tenantId) throw forbidden('This API key is for another tenant', 403);
  return ctx;
}

export function requestIdFrom(headers: IncomingHttpHeaders): string {
  const given = headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

export function contextFromClaims(requestId: string, claims: AccessClaims): RequestContext {
  return {
    requestId,
    tenantId: claims.tid,
    userId: claims.sub,
    sessionId: claims.sid,
    roles: claims.roles,
    permissions: claims.perms,
    authMethod: claims.amr,
    impersonatorId: claims.act?.sub ?? null,
  };
}

/**
 * Turns a request's headers into the caller's context. No token: anonymous (only public operations will
 * succeed). A token must verify (EdDSA only, issuer, audience, expiry). The tenant comes from the token;
 * a tenant header can only repeat it, never move the caller into another tenant.
 */
export async function authenticate(
  headers: IncomingHttpHeaders,
  settings: AuthSettings,
  ip: string | null = null,
): Promise<RequestContext> {
  const ctx = await authenticateHeaders(headers, settings);
  const userAgent = typeof headers['user-agent'] === 'string' ? headers['user-agent'].slice(0, 512) : null;
  return { ...ctx, client: { ip: ip ? ip.slice(0, 64) : null, userAgent } };
}

async function authenticateHeaders(headers: IncomingHttpHeaders, settings: AuthSettings): Promise<RequestContext> {
  const requestId = requestIdFrom(headers);
  const authorization = headers.authorization;
  const apiKey =
    typeof headers['x-api-key'] === 'string'
      ? headers['x-api-key']
      : authorization?.startsWith('Bearer nxk_')
        ? authorization.slice(7)
        : null;
  if (apiKey !== null) return authenticateApiKey(apiKey, requestId, headers, settings);
  if (!authorization) {
    if (headers[TENANT_HEADER]) throw unauthenticated('A tenant can only be selected by a signed-in caller', 401);
    return anonymousContext(requestId);
  }
  const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization);
  if (!match) throw unauthenticated('Authorization header must be "Bearer <access token>"', 401);
  let claims: AccessClaims;
  try {
    claims = await verifyAccessToken(match[1], settings.accessPublicKey, { ...settings, kid: settings.accessKid });
  } catch {
    throw unauthenticated('Access token is invalid or expired', 401);
  }
  const requested = headers[TENANT_HEADER];
  if (requested !== undefined && requested !== claims.tid) {
    throw forbidden('You are not signed in to that tenant', 403);
  }
  return contextFromClaims(requestId, claims);
}
