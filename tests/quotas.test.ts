import { InviteUserDocument, MeDocument, RoomsDocument, SendMessageDocument, SetTenantLimitsDocument, TenantUsageDocument, UsageDocument } from './generated/graphql';
import { codes, gql } from './support/gql';
import { createRoomWithMessage, joinByInvitation, signUp, turnOnTotp, uniqueEmail, type Account } from './support/fixtures';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { sleep } from './support/ws';

const ROOT = uniqueEmail('operator');
let t: TestPlatform;
let root: Account;

beforeAll(async () => {
  t = await startTestPlatform(undefined, { SUPER_ADMIN_EMAILS: ROOT, USAGE_FLUSH_MS: '100' });
  root = await signUp(t.gatewayUrl, 'Operators', ROOT);
  await turnOnTotp(t.gatewayUrl, root.token);
});
afterAll(async () => {
  await t?.stop();
});

const limits = (tenantId: string, input: Record<string, number>) => gql(t.gatewayUrl, SetTenantLimitsDocument, { tenantId, limits: input }, { token: root.token });
const usageOf = (account: Account) => gql(t.gatewayUrl, UsageDocument, {}, { token: account.token }).then((r) => r.data!.usage);
const metric = (u: Awaited<ReturnType<typeof usageOf>>, name: string) => u.metrics.find((m) => m.metric === name)!;

describe('quotas and usage', () => {
  it('meters API calls per tenant in hourly buckets, off the request path', async () => {
    const acme = await signUp(t.gatewayUrl, 'Metered');
    for (let i = 0; i < 5; i++) await gql(t.gatewayUrl, MeDocument, {}, { token: acme.token });
    await sleep(400); // the gateway sends what it counted every USAGE_FLUSH_MS
    const usage = await usageOf(acme);
    expect(Number(metric(usage, 'API_CALLS').used)).toBeGreaterThanOrEqual(5);
    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000).toISOString();
    expect(usage.hourly.find((b) => b.metric === 'API_CALLS')).toMatchObject({ hour, module: '' });
    expect(usage.period).toMatch(/^\d{4}-\d{2}$/);
    // Another tenant's calls are not in it: only acme's own usage reads (at most two, depending on flush timing) are added.
    const other = await signUp(t.gatewayUrl, 'Not Metered');
    for (let i = 0; i < 10; i++) await gql(t.gatewayUrl, MeDocument, {}, { token: other.token });
    await sleep(400);
    const added = Number(metric(await usageOf(acme), 'API_CALLS').used) - Number(metric(usage, 'API_CALLS').used);
    expect(added).toBeGreaterThanOrEqual(1);
    expect(added).toBeLessThanOrEqual(2);
  });

  it('refuses with QUOTA_EXCEEDED past a hard limit, keeping usage and status readable', async () => {
    const shop = await signUp(t.gatewayUrl, 'Limited');
    const { roomId } = await createRoomWithMessage(t.gatewayUrl, shop, 'first');
    await limits(shop.tenantId, { messagesPerMonth: 3, members: 2 });
    const send = (body: string) => gql(t.gatewayUrl, SendMessageDocument, { input: { roomId, body } }, { token: shop.token });
    expect((await send('second')).errors).toBeUndefined();
    expect((await send('third')).errors).toBeUndefined();
    const refused = await send('fourth');
    expect([refused.status, codes(refused)]).toEqual([429, ['QUOTA_EXCEEDED']]);
    expect(refused.errors![0].extensions).toMatchObject({ metric: 'messages', limit: 3 });

    await joinByInvitation(t.gatewayUrl, t.config, shop);
    await limits(shop.tenantId, {}); // read the status again now (members are counted by tenancy)
    const invite = await gql(t.gatewayUrl, InviteUserDocument, { input: { email: uniqueEmail('third'), role: 'member' } }, { token: shop.token });
    expect(codes(invite)).toEqual(['QUOTA_EXCEEDED']);

    await sleep(300);
    const used = Number(metric(await usageOf(shop), 'API_CALLS').used);
    // The usage query itself is one more call: two calls are left.
    await limits(shop.tenantId, { apiCallsPerMonth: used + 3 });
    const rooms = () => gql(t.gatewayUrl, RoomsDocument, {}, { token: shop.token });
    expect((await rooms()).errors).toBeUndefined();
    expect((await rooms()).errors).toBeUndefined();
    expect(codes(await rooms())).toEqual(['QUOTA_EXCEEDED']);
    // Its own account and usage stay reachable.
    expect((await gql(t.gatewayUrl, MeDocument, {}, { token: shop.token })).errors).toBeUndefined();
    await sleep(300);
    const report = await usageOf(shop);
    expect(metric(report, 'MESSAGES')).toMatchObject({ exceeded: true });
    expect(Number(metric(report, 'MESSAGES').used)).toBe(3);
    expect(metric(report, 'API_CALLS').exceeded).toBe(true);

    // Raising the limit lifts it at once.
    await limits(shop.tenantId, { apiCallsPerMonth: 1_000_000 });
    expect((await rooms()).errors).toBeUndefined();
  });

  it('is readable by tenant admins for their tenant and by platform operators for any', async () => {
    const owner = await signUp(t.gatewayUrl, 'Readers');
    const member = await joinByInvitation(t.gatewayUrl, t.config, owner);
    expect(codes(await gql(t.gatewayUrl, UsageDocument, {}, { token: member.token }))).toEqual(['FORBIDDEN']);
    expect(codes(await gql(t.gatewayUrl, UsageDocument, { period: '2026-13' }, { token: owner.token }))).toEqual(['INVALID_PERIOD']);
    expect(codes(await gql(t.gatewayUrl, TenantUsageDocument, { tenantId: root.tenantId }, { token: owner.token }))).toEqual(['FORBIDDEN']);
    const theirs = await gql(t.gatewayUrl, TenantUsageDocument, { tenantId: owner.tenantId }, { token: root.token });
    expect(Number(theirs.data!.tenantUsage.metrics.find((m) => m.metric === 'MEMBERS')!.used)).toBe(2);
    expect(codes(await limits(owner.tenantId, { members: -1 }))).toEqual(['INVALID_LIMITS']);
    expect(codes(await gql(t.gatewayUrl, SetTenantLimitsDocument, { tenantId: owner.tenantId, limits: { members: 500 } }, { token: owner.token }))).toEqual(['FORBIDDEN']);
  });
});
