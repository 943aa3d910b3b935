import { SignJWT } from 'jose';
import {
  ApiKeysDocument,
  CreateApiKeyDocument,
  CreateProductDocument,
  MeDocument,
  ProductsDocument,
  RevokeApiKeyDocument,
} from './generated/graphql';
import { codes } from './support/gql';
import type { User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
let owner: User;
beforeAll(async () => {
  t = await startTestPlatform(undefined, { API_KEY_RATE_PER_MINUTE: '20' });
  owner = await t.signUp('Keys');
  await owner.gql(CreateProductDocument, { input: { name: 'Widget', priceCents: 100, currency: 'USD' } });
});
afterAll(async () => {
  await t?.stop();
});

const create = (account: User, permissions: string[], name = 'ci') =>
  account.gql(CreateApiKeyDocument, { input: { name, permissions } });

describe('API keys', () => {
  it('acts with exactly the permissions it was given, by Bearer or x-api-key', async () => {
    const created = await create(owner, ['products:read']);
    const { secret, apiKey } = created.data!.createApiKey;
    expect(secret.startsWith(`${apiKey.prefix}_`)).toBe(true);
    const listed = await owner.gql(ApiKeysDocument, {});
    expect(JSON.stringify(listed.data)).not.toContain(secret);
    const viaBearer = await t.as(secret).gql(ProductsDocument, {});
    expect(viaBearer.data!.products.map((p) => p.name)).toEqual(['Widget']);
    const viaHeader = await t.anonymous().gql(ProductsDocument, {}, { headers: { 'x-api-key': secret } });
    expect(viaHeader.data!.products).toHaveLength(1);
    const write = await t
      .as(secret)
      .gql(CreateProductDocument, { input: { name: 'Nope', priceCents: 1, currency: 'USD' } });
    expect(codes(write)).toEqual(['FORBIDDEN']);
  });

  it('cannot be given more than its creator has, nor create keys itself', async () => {
    const escalate = await create(owner, ['products:read', 'billing:refund']);
    expect(codes(escalate)).toEqual(['PERMISSION_ESCALATION']);
    const plain = (await create(owner, ['products:read'])).data!.createApiKey.secret;
    const noRight = await t
      .as(plain)
      .gql(CreateApiKeyDocument, { input: { name: 'child', permissions: ['products:read'] } });
    expect(codes(noRight)).toEqual(['FORBIDDEN']);
    const manager = (await create(owner, ['products:read', 'apikeys:manage'])).data!.createApiKey.secret;
    const byKey = await t
      .as(manager)
      .gql(CreateApiKeyDocument, { input: { name: 'child', permissions: ['products:read'] } });
    expect(codes(byKey)).toEqual(['PERMISSION_ESCALATION']);
  });

  it('stops working at once when revoked; another tenant cannot revoke it', async () => {
    const { secret, apiKey } = (await create(owner, ['products:read'])).data!.createApiKey;
    expect((await t.as(secret).gql(ProductsDocument, {})).errors).toBeUndefined();
    const stranger = await t.signUp('Other keys');
    expect(codes(await stranger.gql(RevokeApiKeyDocument, { id: apiKey.id }))).toEqual(['API_KEY_NOT_FOUND']);
    expect((await owner.gql(RevokeApiKeyDocument, { id: apiKey.id })).data).toEqual({
      revokeApiKey: true,
    });
    await new Promise((r) => setTimeout(r, 50));
    const after = await t.as(secret).gql(ProductsDocument, {});
    expect(after.status).toBe(401);
    const tampered = await t.as(`${secret.slice(0, -2)}xx`).gql(ProductsDocument, {});
    expect(tampered.status).toBe(401);
  });

  it('cannot reach another tenant, even with a tenant header', async () => {
    const secret = (await create(owner, ['products:read'])).data!.createApiKey.secret;
    const stranger = await t.signUp('Elsewhere');
    const res = await t.as(secret).gql(ProductsDocument, {}, { headers: { 'x-tenant-id': stranger.tenantId } });
    expect(res.status).toBe(403);
  });

  it('has its own request rate', async () => {
    const secret = (await create(owner, ['products:read'], 'busy')).data!.createApiKey.secret;
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) statuses.push((await t.as(secret).gql(ProductsDocument, {})).status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(19);
    expect(statuses.at(-1)).toBe(429);
    // The owner's own session is not slowed by the key.
    expect((await owner.gql(MeDocument, {})).status).toBe(200);
  });
});

describe('access tokens the gateway refuses', () => {
  const claims = () => ({
    tid: owner.tenantId,
    sid: '00000000-0000-4000-8000-000000000000',
    roles: ['owner'],
    perms: ['*'],
    amr: 'password',
  });
  it('refuses alg=none and a token naming an unknown key id', async () => {
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const body = {
      ...claims(),
      sub: owner.userId,
      iss: t.config.auth.JWT_ISSUER,
      aud: t.config.auth.JWT_AUDIENCE,
      iat: now,
      exp: now + 60,
    };
    const none = `${enc({ alg: 'none', typ: 'at+jwt' })}.${enc(body)}.`;
    expect((await t.as(none).gql(MeDocument, {})).status).toBe(401);
    const unknownKid = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'not-our-key' })
      .setSubject(owner.userId)
      .setIssuer(t.config.auth.JWT_ISSUER)
      .setAudience(t.config.auth.JWT_AUDIENCE)
      .setExpirationTime('1m')
      .sign(t.keys.access.privateKey!);
    expect((await t.as(unknownKid).gql(MeDocument, {})).status).toBe(401);
  });
});
