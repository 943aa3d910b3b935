import { createHmac } from 'node:crypto';
import {
  CreateApiKeyDocument,
  CreateRoomWebhookDocument,
  DeleteTenantDocument,
  InviteUserDocument,
  MeDocument,
  MessagesDocument,
  ReactivateTenantDocument,
  RestoreTenantDocument,
  RoomsDocument,
  SendMessageDocument,
  SetTenantLimitsDocument,
  SuspendTenantDocument,
  TenantUsageDocument,
  UsageDocument,
} from './generated/graphql';
import { codes, gql, rawGql } from './support/gql';
import { confirmEmail, createRoomWithMessage, joinByInvitation, signUp, turnOnTotp, uniqueEmail, type Account } from './support/fixtures';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { connect, sleep, type WsSession } from './support/ws';

const ROOT = uniqueEmail('operator');
let t: TestPlatform;
let root: Account;
const sockets: WsSession[] = [];

beforeAll(async () => {
  t = await startTestPlatform(undefined, { SUPER_ADMIN_EMAILS: ROOT, USAGE_FLUSH_MS: '100' });
  root = await signUp(t.gatewayUrl, 'Operators', ROOT);
  // A Super Admin by configuration holds the address confirmed.
  await confirmEmail(t.gatewayUrl, t.config, ROOT);
  await turnOnTotp(t.gatewayUrl, root.token);
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.dispose()));
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

/** Reads `read` again until `done` holds (tenancy learns counted usage every USAGE_FLUSH_MS), at most 10 s. */
async function until<T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const end = Date.now() + 10_000;
  let value = await read();
  while (!done(value) && Date.now() < end) {
    await sleep(100);
    value = await read();
  }
  return value;
}

const NO_ROOM = '00000000-0000-4000-8000-000000000000';
const storedIn = (account: Account, roomId: string) =>
  gql(t.gatewayUrl, MessagesDocument, { roomId, first: 50 }, { token: account.token }).then((r) => r.data!.messages.edges.map((e) => e.node.body));
const messagesUsed = (account: Account) => usageOf(account).then((u) => Number(metric(u, 'MESSAGES').used));

/** A room webhook of `account` and a way to post signed calls to it. */
async function webhookOf(account: Account, roomId: string) {
  const created = (await gql(t.gatewayUrl, CreateRoomWebhookDocument, { roomId, name: 'automation' }, { token: account.token })).data!.createRoomWebhook;
  const url = new URL(created.webhook.path, t.gatewayUrl).toString();
  return async (text: string) => {
    const body = JSON.stringify({ text });
    const ts = String(Math.floor(Date.now() / 1000));
    const signature = `v1=${createHmac('sha256', created.secret).update(`${ts}.${body}`).digest('hex')}`;
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'nexus-timestamp': ts, 'nexus-signature': signature }, body });
    const json = (await res.json()) as { messageId?: string; error?: { code: string; metric?: string } };
    return { status: res.status, code: json.error?.code ?? null };
  };
}

describe('every path into a tenant is admitted and counted the same way', () => {
  it('counts each aliased sendMessage that took effect, although another field of the operation failed', async () => {
    const shop = await signUp(t.gatewayUrl, 'Aliased Sends');
    const { roomId } = await createRoomWithMessage(t.gatewayUrl, shop, 'first');
    await limits(shop.tenantId, { messagesPerMonth: 3 });
    const mixed = (i: number) =>
      rawGql(
        t.gatewayUrl,
        {
          query: 'mutation($ok: SendMessageInput!, $bad: SendMessageInput!) { a: sendMessage(input: $ok) { id } b: sendMessage(input: $bad) { id } }',
          variables: { ok: { roomId, body: `aliased ${i}` }, bad: { roomId: NO_ROOM, body: 'nowhere' } },
        },
        { token: shop.token },
      );
    const outcomes: unknown[] = [];
    for (let i = 0; i < 4; i++) outcomes.push(codes(await mixed(i)));
    for (let i = 0; i < 2; i++) outcomes.push(codes(await gql(t.gatewayUrl, SendMessageDocument, { input: { roomId, body: `single ${i}` } }, { token: shop.token })));
    // The first operation stores `a` (and is counted for it); two messages no longer fit, one still does.
    expect(outcomes).toEqual([['ROOM_NOT_FOUND'], ['QUOTA_EXCEEDED'], ['QUOTA_EXCEEDED'], ['QUOTA_EXCEEDED'], [], ['QUOTA_EXCEEDED']]);
    expect(await storedIn(shop, roomId)).toEqual(['single 0', 'aliased 0', 'first']);
    expect(await until(() => messagesUsed(shop), (n) => n >= 3)).toBe(3);
  });

  it('counts webhook calls against the messages limit and refuses them past it, storing nothing', async () => {
    const shop = await signUp(t.gatewayUrl, 'Hooked Sends');
    const { roomId } = await createRoomWithMessage(t.gatewayUrl, shop, 'first');
    const post = await webhookOf(shop, roomId);
    await limits(shop.tenantId, { messagesPerMonth: 3 });
    const outcomes = [await post('hook 1'), await post('hook 2'), await post('hook 3')];
    expect(outcomes).toEqual([
      { status: 201, code: null },
      { status: 201, code: null },
      { status: 429, code: 'QUOTA_EXCEEDED' },
    ]);
    expect(await storedIn(shop, roomId)).toEqual(['hook 2', 'hook 1', 'first']);
    expect(await until(() => messagesUsed(shop), (n) => n >= 3)).toBe(3);
    // The members' own sends see the same count.
    expect(codes(await gql(t.gatewayUrl, SendMessageDocument, { input: { roomId, body: 'over' } }, { token: shop.token }))).toEqual(['QUOTA_EXCEEDED']);
  });

  it('refuses webhook calls into a suspended or deleted tenant, storing nothing, and admits them again once it is active', async () => {
    const shop = await signUp(t.gatewayUrl, 'Hooked Suspended');
    const { roomId } = await createRoomWithMessage(t.gatewayUrl, shop, 'first');
    const post = await webhookOf(shop, roomId);
    expect((await gql(t.gatewayUrl, SuspendTenantDocument, { id: shop.tenantId, reason: 'Unpaid invoices' }, { token: root.token })).errors).toBeUndefined();
    expect(await post('while suspended')).toEqual({ status: 403, code: 'TENANT_SUSPENDED' });
    expect((await gql(t.gatewayUrl, ReactivateTenantDocument, { id: shop.tenantId }, { token: root.token })).errors).toBeUndefined();
    expect(await post('after reactivation')).toEqual({ status: 201, code: null });
    expect((await gql(t.gatewayUrl, DeleteTenantDocument, { id: shop.tenantId }, { token: shop.token })).errors).toBeUndefined();
    expect(await post('while deleted')).toEqual({ status: 403, code: 'TENANT_DELETED' });
    expect((await gql(t.gatewayUrl, RestoreTenantDocument, { id: shop.tenantId }, { token: shop.token })).errors).toBeUndefined();
    expect(await storedIn(shop, roomId)).toEqual(['after reactivation', 'first']);
  });

  it('meters API keys and operations sent over WebSocket against the same limits', async () => {
    const shop = await signUp(t.gatewayUrl, 'Keys And Sockets');
    const { roomId } = await createRoomWithMessage(t.gatewayUrl, shop, 'first');
    const key = (await gql(t.gatewayUrl, CreateApiKeyDocument, { input: { name: 'bot', permissions: ['messages:send', 'messages:read'] } }, { token: shop.token })).data!.createApiKey.secret;
    await limits(shop.tenantId, { messagesPerMonth: 3 });
    expect((await gql(t.gatewayUrl, SendMessageDocument, { input: { roomId, body: 'by key' } }, { token: key })).errors).toBeUndefined();
    const socket = connect(t.gatewayUrl, { authorization: `Bearer ${shop.token}` });
    sockets.push(socket);
    const send = (body: string) => {
      const op = socket.subscribe<{ sendMessage: { id: string } }>('mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }', { i: { roomId, body } });
      return op.completed.then(() => op.results.flatMap((r) => (r.errors ?? []).map((e) => e.extensions?.code)));
    };
    expect(await send('by socket')).toEqual([]);
    expect(await send('one too many')).toEqual(['QUOTA_EXCEEDED']);
    expect(codes(await gql(t.gatewayUrl, SendMessageDocument, { input: { roomId, body: 'key, one too many' } }, { token: key }))).toEqual(['QUOTA_EXCEEDED']);
    expect(await storedIn(shop, roomId)).toEqual(['by socket', 'by key', 'first']);
  });
});
