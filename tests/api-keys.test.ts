import { SignJWT } from 'jose';
import {
  ApiKeysDocument,
  CreateApiKeyDocument,
  CreateProductDocument,
  MeDocument,
  ProductsDocument,
  RevokeApiKeyDocument,
} from './generated/graphql';
import { codes, gql } from './support/gql';
import { signUp, type Account } from './support/fixtures';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
let owner: Account;
beforeAll(async () => {
  t = await startTestPlatform(undefined, { API_KEY_RATE_PER_MINUTE: '20' });
  owner = await signUp(t.gatewayUrl, 'Keys');
  await gql(
    t.gatewayUrl,
    CreateProductDocument,
    { input: { name: 'Widget', priceCents: 100, currency: 'USD' } },
    { token: owner.token },
  );
});
afterAll(async () => {
  await t?.stop();
});

const create = (account: Account, permissions: string[], name = 'ci') =>
  gql(t.gatewayUrl, CreateApiKeyDocument, { input: { name, permissions } }, { token: account.token });

describe('API keys', () => {
  it('acts with exactly the permissions it was given, by Bearer or x-api-key', async () => {
    const created = await create(owner, ['products:read']);
    const { secret, apiKey } = created.data!.createApiKey;
    expect(secret.startsWith(`${apiKey.prefix}_`)).toBe(true);
    const listed = await gql(t.gatewayUrl, ApiKeysDocument, {}, { token: owner.token });
    expect(JSON.stringify(listed.data)).not.toContain(secret);
    const viaBearer = await gql(t.gatewayUrl, ProductsDocument, {}, { token: secret });
    expect(viaBearer.data!.products.map((p) => p.name)).toEqual(['Widget']);
    const viaHeader = await gql(t.gatewayUrl, ProductsDocument, {}, { headers: { 'x-api-key': secret } });
    expect(viaHeader.data!.products).toHaveLength(1);
    const write = await gql(
      t.gatewayUrl,
      CreateProductDocument,
      { input: { name: 'Nope', priceCents: 1, currency: 'USD' } },
      { token: secret },
    );
    expect(codes(write)).toEqual(['FORBIDDEN']);
  });

  it('cannot be given more than its creator has, nor create keys itself', async () => {
    const escalate = await create(owner, ['products:read', 'billing:refund']);
    expect(codes(escalate)).toEqual(['PERMISSION_ESCALATION']);
    const plain = (await create(owner, ['products:read'])).data!.createApiKey.secret;
    const noRight = await gql(
      t.gatewayUrl,
      CreateApiKeyDocument,
      { input: { name: 'child', permissions: ['products:read'] } },
      { token: plain },
    );
    expect(codes(noRight)).toEqual(['FORBIDDEN']);
    const manager = (await create(owner, ['products:read', 'apikeys:manage'])).data!.createApiKey.secret;
    const byKey = await gql(
      t.gatewayUrl,
      CreateApiKeyDocument,
      { input: { name: 'child', permissions: ['products:read'] } },
      { token: manager },
    );
    expect(codes(byKey)).toEqual(['PERMISSION_ESCALATION']);
  });

  it('stops working at once when revoked; another tenant cannot revoke it', async () => {
    const { secret, apiKey } = (await create(owner, ['products:read'])).data!.createApiKey;
    expect((await gql(t.gatewayUrl, ProductsDocument, {}, { token: secret })).errors).toBeUndefined();
    const stranger = await signUp(t.gatewayUrl, 'Other keys');
    expect(codes(await gql(t.gatewayUrl, RevokeApiKeyDocument, { id: apiKey.id }, { token: stranger.token }))).toEqual([
      'API_KEY_NOT_FOUND',
    ]);
    expect((await gql(t.gatewayUrl, RevokeApiKeyDocument, { id: apiKey.id }, { token: owner.token })).data).toEqual({
      revokeApiKey: true,
    });
    await new Promise((r) => setTimeout(r, 50));
    const after = await gql(t.gatewayUrl, ProductsDocument, {}, { token: secret });
    expect(after.status).toBe(401);
    const tampered = await gql(t.gatewayUrl, ProductsDocument, {}, { token: `${secret.slice(0, -2)}xx` });
    expect(tampered.status).toBe(401);
  });

  it('cannot reach another tenant, even with a tenant header', async () => {
    const secret = (await create(owner, ['products:read'])).data!.createApiKey.secret;
    const stranger = await signUp(t.gatewayUrl, 'Elsewhere');
    const res = await gql(
      t.gatewayUrl,
      ProductsDocument,
      {},
      { token: secret, headers: { 'x-tenant-id': stranger.tenantId } },
    );
    expect(res.status).toBe(403);
  });

  it('has its own request rate', async () => {
    const secret = (await create(owner, ['products:read'], 'busy')).data!.createApiKey.secret;
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++)
      statuses.push((await gql(t.gatewayUrl, ProductsDocument, {}, { token: secret })).status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(19);
    expect(statuses.at(-1)).toBe(429);
    // The owner's own session is not slowed by the key.
    expect((await gql(t.gatewayUrl, MeDocument, {}, { token: owner.token })).status).toBe(200);
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
    expect((await gql(t.gatewayUrl, MeDocument, {}, { token: none })).status).toBe(401);
    const unknownKid = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'not-our-key' })
      .setSubject(owner.userId)
      .setIssuer(t.config.auth.JWT_ISSUER)
      .setAudience(t.config.auth.JWT_AUDIENCE)
      .setExpirationTime('1m')
      .sign(t.keys.access.privateKey!);
    expect((await gql(t.gatewayUrl, MeDocument, {}, { token: unknownKid })).status).toBe(401);
  });
});
