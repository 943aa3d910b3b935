import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { CONTEXT_HEADER, signContextToken } from '../kernel/context-token';
import type { RequestContext } from '../kernel/context';
import { generateKeyPair } from '../kernel/keys';
import { SUBGRAPHS } from '../kernel/services';
import { signAccessToken } from '../kernel/access-token';
import { MeDocument } from './generated/graphql';
import { codes, rawGql } from './support/gql';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
let ctx: RequestContext;
beforeAll(async () => {
  t = await startTestPlatform();
  const account = await t.signUp('Signers');
  ctx = {
    requestId: 'test',
    tenantId: account.tenantId,
    userId: account.userId,
    sessionId: randomUUID(),
    roles: ['owner'],
    permissions: ['*'],
    authMethod: 'password',
  };
});
afterAll(async () => {
  await t?.stop();
});

const SERVICE_SDL = { query: '{ _service { sdl } }' };
const ENTITIES = {
  query: 'query($r: [_Any!]!) { _entities(representations: $r) { __typename } }',
  variables: { r: [{ __typename: 'Unknown', id: 'x' }] },
};

async function tamper(token: string): Promise<string> {
  const [h, p, s] = token.split('.');
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
  payload.ctx.tenantId = randomUUID();
  return [h, Buffer.from(JSON.stringify(payload)).toString('base64url'), s].join('.');
}

describe.each([...SUBGRAPHS])('subgraph %s refuses requests not signed by the gateway for it', (name) => {
  const post = (body: unknown, token?: string) =>
    rawGql(t.subgraphUrl(name), body, { headers: token ? { [CONTEXT_HEADER]: token } : {} });

  it('refuses unsigned requests, including _service and _entities', async () => {
    for (const body of [SERVICE_SDL, ENTITIES]) {
      const res = await post(body);
      expect(res.status).toBe(401);
      expect(codes(res)).toEqual(['UNAUTHENTICATED']);
    }
  });

  it('refuses a context signed with another key', async () => {
    const forged = await signContextToken(ctx, name, generateKeyPair().privateKey!);
    expect((await post(SERVICE_SDL, forged)).status).toBe(401);
  });

  it('refuses a context for another audience', async () => {
    const other = SUBGRAPHS.find((s) => s !== name)!;
    const token = await signContextToken(ctx, other, t.keys.context.privateKey!);
    expect((await post(ENTITIES, token)).status).toBe(401);
  });

  it('refuses an expired context', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ ctx })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'nexus-context+jwt' })
      .setIssuer('nexus-gateway')
      .setAudience(name)
      .setIssuedAt(now - 120)
      .setExpirationTime(now - 60)
      .sign(t.keys.context.privateKey!);
    expect((await post(SERVICE_SDL, expired)).status).toBe(401);
  });

  it('refuses a tampered context', async () => {
    const token = await signContextToken(ctx, name, t.keys.context.privateKey!);
    expect((await post(SERVICE_SDL, await tamper(token))).status).toBe(401);
  });

  it('refuses an unsigned ("alg": "none") context', async () => {
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const none = `${enc({ alg: 'none', typ: 'nexus-context+jwt' })}.${enc({ ctx, iss: 'nexus-gateway', aud: name, iat: now, exp: now + 30 })}.`;
    expect((await post(SERVICE_SDL, none)).status).toBe(401);
  });

  it('serves a correctly signed request', async () => {
    const token = await signContextToken(ctx, name, t.keys.context.privateKey!);
    const res = await post(SERVICE_SDL, token);
    expect(res.status).toBe(200);
    expect((res.data as { _service: { sdl: string } })._service.sdl).toContain('type Query');
  });
});

describe('gateway authentication', () => {
  it('refuses a malformed Authorization header with 401', async () => {
    const res = await t.anonymous().raw({ query: '{ me { id } }' }, { headers: { authorization: 'Token abc' } });
    expect(res.status).toBe(401);
  });

  it('refuses an access token signed by another key', async () => {
    const token = await signAccessToken(
      { sub: ctx.userId!, tid: ctx.tenantId!, sid: ctx.sessionId!, roles: ['owner'], perms: ['*'], amr: 'password' },
      generateKeyPair(),
      { issuer: t.config.auth.JWT_ISSUER, audience: t.config.auth.JWT_AUDIENCE, ttlSeconds: 60 },
    );
    const res = await t.as(token).gql(MeDocument, {});
    expect(res.status).toBe(401);
    expect(codes(res)).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses an HS256 token keyed with the public key (algorithm confusion)', async () => {
    const secret = t.keys.access.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const token = await new SignJWT({
      tid: ctx.tenantId,
      sid: ctx.sessionId,
      roles: ['owner'],
      perms: ['*'],
      amr: 'password',
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setSubject(ctx.userId!)
      .setIssuer(t.config.auth.JWT_ISSUER)
      .setAudience(t.config.auth.JWT_AUDIENCE)
      .setExpirationTime('1m')
      .sign(new TextEncoder().encode(secret));
    expect((await t.as(token).gql(MeDocument, {})).status).toBe(401);
  });

  it('refuses an expired access token', async () => {
    const token = await new SignJWT({
      tid: ctx.tenantId,
      sid: ctx.sessionId,
      roles: ['owner'],
      perms: ['*'],
      amr: 'password',
    })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt' })
      .setSubject(ctx.userId!)
      .setIssuer(t.config.auth.JWT_ISSUER)
      .setAudience(t.config.auth.JWT_AUDIENCE)
      .setIssuedAt(Math.floor(Date.now() / 1000) - 3600)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(t.keys.access.privateKey!);
    expect((await t.as(token).gql(MeDocument, {})).status).toBe(401);
  });
});
