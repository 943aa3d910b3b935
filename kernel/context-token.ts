import { randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { requestContextSchema, type RequestContext } from './context';

/** HTTP header (and graphql-ws connection param) that carries the signed context to a subgraph. */
export const CONTEXT_HEADER = 'x-nexus-context';
/** Response extension through which identity hands the gateway a session it just issued (register, login). */
export const ISSUED_SESSION_EXTENSION = 'nexusIssuedAccessToken';
const ISSUER = 'nexus-gateway';
const TYPE = 'nexus-context+jwt';
const MAX_AGE_SECONDS = 60;

export async function signContextToken(
  ctx: RequestContext,
  audience: string,
  privateKey: KeyObject,
  ttlSeconds = 30,
): Promise<string> {
  const ttl = Math.min(ttlSeconds, MAX_AGE_SECONDS);
  return new SignJWT({ ctx })
    .setProtectedHeader({ alg: 'EdDSA', typ: TYPE })
    .setIssuer(ISSUER)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime(`${ttl}s`)
    .setJti(randomUUID())
    .sign(privateKey);
}

export class ContextTokenError extends Error {
  constructor(public readonly reason: string) {
    super(`Invalid context token: ${reason}`);
    this.name = 'ContextTokenError';
  }
}

/** Verifies signature (EdDSA only), issuer, audience, expiry and age; returns the validated context. */
export async function verifyContextToken(
  token: string,
  audience: string,
  publicKey: KeyObject,
): Promise<RequestContext> {
  try {
    const { payload } = await jwtVerify(token, publicKey, {
      algorithms: ['EdDSA'],
      issuer: ISSUER,
      audience,
      typ: TYPE,
      maxTokenAge: MAX_AGE_SECONDS,
      requiredClaims: ['exp', 'iat', 'aud'],
    });
    const parsed = requestContextSchema.safeParse(payload.ctx);
    if (!parsed.success) throw new ContextTokenError('malformed context claim');
    return parsed.data;
  } catch (err) {
    if (err instanceof ContextTokenError) throw err;
    if (err instanceof joseErrors.JWTExpired) throw new ContextTokenError('expired');
    if (err instanceof joseErrors.JWTClaimValidationFailed) throw new ContextTokenError(`claim ${err.claim} rejected`);
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new ContextTokenError('bad signature');
    if (err instanceof joseErrors.JOSEAlgNotAllowed) throw new ContextTokenError('algorithm not allowed');
    throw new ContextTokenError('unreadable');
  }
}
