import type { KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { z } from 'zod';

/** Claims of the access JWT identity issues and the gateway verifies. */
export const accessClaimsSchema = z.object({
  sub: z.uuid(),
  tid: z.uuid(),
  sid: z.uuid(),
  roles: z.array(z.string()),
  perms: z.array(z.string()),
  amr: z.enum(['password', 'sso', 'api_key']),
  /** RFC 8693 actor: a platform Super Admin who entered a tenant they are not a member of. */
  act: z.object({ sub: z.uuid() }).optional(),
});
export type AccessClaims = z.infer<typeof accessClaimsSchema>;

export interface AccessTokenSettings {
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export async function signAccessToken(
  claims: AccessClaims,
  key: { privateKey?: KeyObject; kid: string },
  settings: AccessTokenSettings,
): Promise<string> {
  if (!key.privateKey) throw new Error('This service holds no access-token signing key');
  return new SignJWT({
    tid: claims.tid,
    sid: claims.sid,
    roles: claims.roles,
    perms: claims.perms,
    amr: claims.amr,
    ...(claims.act ? { act: claims.act } : {}),
  })
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' })
    .setSubject(claims.sub)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt()
    .setExpirationTime(`${settings.ttlSeconds}s`)
    .sign(key.privateKey);
}

/**
 * Verifies an access JWT: EdDSA only, the key named by `kid` (when a kid is expected, no other), issuer,
 * audience, expiry; throws on anything else.
 */
export async function verifyAccessToken(
  token: string,
  publicKey: KeyObject,
  settings: Pick<AccessTokenSettings, 'issuer' | 'audience'> & { kid?: string },
): Promise<AccessClaims> {
  const key = (header: { kid?: string }) => {
    if (settings.kid !== undefined && header.kid !== settings.kid) throw new Error('unknown key id');
    return publicKey;
  };
  const { payload } = await jwtVerify(token, key, {
    algorithms: ['EdDSA'],
    issuer: settings.issuer,
    audience: settings.audience,
    typ: 'at+jwt',
    requiredClaims: ['exp', 'sub'],
  });
  return accessClaimsSchema.parse(payload);
}
