import { createHmac, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AcceptInvitationDocument,
  CreateApiKeyDocument,
  CreateTenantDocument,
  CurrentTenantDocument,
  CreateRoomWebhookDocument,
  DeleteTenantDocument,
  InviteUserDocument,
  MeDocument,
  MessagesDocument,
  ReactivateTenantDocument,
  RestoreTenantDocument,
  RoomsDocument,
  SetTenantLimitsDocument,
  SuspendTenantDocument,
  SwitchTenantDocument,
  TenantUsageDocument,
  UsageDocument,
} from './generated/graphql';
import type { User } from './support/client';
import { codes } from './support/gql';
import { uniqueEmail } from './support/fixtures';
import { SUBJECTS, tokenFrom, waitForMail } from './support/mailbox';
import { startExtraGateway, startTestPlatform, type TestPlatform } from './support/platform';
import { connect, sleep, type WsSession } from './support/ws';

const ROOT = uniqueEmail('operator');
let t: TestPlatform;
let root: User;
const sockets: WsSession[] = [];

beforeAll(async () => {
  t = await startTestPlatform(undefined, { SUPER_ADMIN_EMAILS: ROOT, USAGE_FLUSH_MS: '100' });
  root = await t.signUp('Operators', ROOT);
  // A Super Admin by configuration holds the address confirmed.
  await root.confirmEmail();
  await root.turnOnTotp();
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.dispose()));
  await t?.stop();
});

const limits = (tenantId: string, input: Record<string, number>) =>
  root.gql(SetTenantLimitsDocument, { tenantId, limits: input });
const usageOf = (account: User) => account.gql(UsageDocument, {}).then((r) => r.data!.usage);
const metric = (u: Awaited<ReturnType<typeof usageOf>>, name: string) => u.metrics.find((m) => m.metric === name)!;

describe('quotas and usage', () => {
  it('meters API calls per tenant in hourly buckets, off the request path', async () => {
    const acme = await t.signUp('Metered');
    for (let i = 0; i < 5; i++) await acme.gql(MeDocument, {});
    await sleep(400); // the gateway sends what it counted every USAGE_FLUSH_MS
    const usage = await usageOf(acme);
    expect(Number(metric(usage, 'API_CALLS').used)).toBeGreaterThanOrEqual(5);
    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000).toISOString();
    expect(usage.hourly.find((b) => b.metric === 'API_CALLS')).toMatchObject({ hour, module: '' });
    expect(usage.period).toMatch(/^\d{4}-\d{2}$/);
    // Another tenant's calls are not in it: only acme's own usage reads (at most two, depending on flush timing) are added.
    const other = await t.signUp('Not Metered');
    for (let i = 0; i < 10; i++) await other.gql(MeDocument, {});
    await sleep(400);
    const added = Number(metric(await usageOf(acme), 'API_CALLS').used) - Number(metric(usage, 'API_CALLS').used);
    expect(added).toBeGreaterThanOrEqual(1);
    expect(added).toBeLessThanOrEqual(2);
  });

  it('refuses with QUOTA_EXCEEDED past a hard limit, keeping usage and status readable', async () => {
    const shop = await t.signUp('Limited');
    const { roomId } = await shop.createRoomWithMessage('first');
    await limits(shop.tenantId, { messagesPerMonth: 3, members: 2 });
    expect((await shop.sendMessage(roomId, 'second')).errors).toBeUndefined();
    expect((await shop.sendMessage(roomId, 'third')).errors).toBeUndefined();
    const refused = await shop.sendMessage(roomId, 'fourth');
    expect([refused.status, codes(refused)]).toEqual([429, ['QUOTA_EXCEEDED']]);
    expect(refused.errors![0].extensions).toMatchObject({ metric: 'messages', limit: 3 });

    await shop.invite();
    await limits(shop.tenantId, {}); // read the status again now (members are counted by tenancy)
    const invite = await shop.gql(InviteUserDocument, { input: { email: uniqueEmail('third'), role: 'member' } });
    expect(codes(invite)).toEqual(['QUOTA_EXCEEDED']);

    await sleep(300);
    const used = Number(metric(await usageOf(shop), 'API_CALLS').used);
    // The usage query itself is one more call: two calls are left.
    await limits(shop.tenantId, { apiCallsPerMonth: used + 3 });
    const rooms = () => shop.gql(RoomsDocument, {});
    expect((await rooms()).errors).toBeUndefined();
    expect((await rooms()).errors).toBeUndefined();
    expect(codes(await rooms())).toEqual(['QUOTA_EXCEEDED']);
    // Its own account and usage stay reachable.
    expect((await shop.gql(MeDocument, {})).errors).toBeUndefined();
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
    const owner = await t.signUp('Readers');
    const member = await owner.invite();
    expect(codes(await member.gql(UsageDocument, {}))).toEqual(['FORBIDDEN']);
    expect(codes(await owner.gql(UsageDocument, { period: '2026-13' }))).toEqual(['INVALID_PERIOD']);
    expect(codes(await owner.gql(TenantUsageDocument, { tenantId: root.tenantId }))).toEqual(['FORBIDDEN']);
    const theirs = await root.gql(TenantUsageDocument, { tenantId: owner.tenantId });
    expect(Number(theirs.data!.tenantUsage.metrics.find((m) => m.metric === 'MEMBERS')!.used)).toBe(2);
    expect(codes(await limits(owner.tenantId, { members: -1 }))).toEqual(['INVALID_LIMITS']);
    expect(
      codes(await owner.gql(SetTenantLimitsDocument, { tenantId: owner.tenantId, limits: { members: 500 } })),
    ).toEqual(['FORBIDDEN']);
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
const storedIn = (account: User, roomId: string) =>
  account.gql(MessagesDocument, { roomId, first: 50 }).then((r) => r.data!.messages.edges.map((e) => e.node.body));
const messagesUsed = (account: User) => usageOf(account).then((u) => Number(metric(u, 'MESSAGES').used));

/** A room webhook of `account` and a way to post signed calls to it. */
async function webhookOf(account: User, roomId: string) {
  const created = (await account.gql(CreateRoomWebhookDocument, { roomId, name: 'automation' })).data!
    .createRoomWebhook;
  const path = created.webhook.path;
  /** Posts `text` to the webhook (through `gateway`), signed with its secret or, with `secret: null`, unsigned. */
  return async (text: string, options: { secret?: string | null; gateway?: string } = {}) => {
    const body = JSON.stringify({ text });
    const ts = String(Math.floor(Date.now() / 1000));
    const secret = options.secret === undefined ? created.secret : options.secret;
    const signature: Record<string, string> =
      secret === null
        ? {}
        : {
            'nexus-timestamp': ts,
            'nexus-signature': `v1=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`,
          };
    const res = await fetch(new URL(path, options.gateway ?? t.gatewayUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signature },
      body,
    });
    const json = (await res.json()) as { messageId?: string; error?: { code: string; metric?: string } };
    return { status: res.status, code: json.error?.code ?? null };
  };
}

describe('every path into a tenant is admitted and counted the same way', () => {
  it('counts each aliased sendMessage that took effect, although another field of the operation failed', async () => {
    const shop = await t.signUp('Aliased Sends');
    const { roomId } = await shop.createRoomWithMessage('first');
    await limits(shop.tenantId, { messagesPerMonth: 3 });
    const mixed = (i: number) =>
      shop.raw({
        query:
          'mutation($ok: SendMessageInput!, $bad: SendMessageInput!) { a: sendMessage(input: $ok) { id } b: sendMessage(input: $bad) { id } }',
        variables: { ok: { roomId, body: `aliased ${i}` }, bad: { roomId: NO_ROOM, body: 'nowhere' } },
      });
    const outcomes: unknown[] = [];
    for (let i = 0; i < 4; i++) outcomes.push(codes(await mixed(i)));
    for (let i = 0; i < 2; i++) outcomes.push(codes(await shop.sendMessage(roomId, `single ${i}`)));
    // Each of the first two operations stores `a` (and is counted for it); then no message fits any more.
    expect(outcomes).toEqual([
      ['ROOM_NOT_FOUND'],
      ['ROOM_NOT_FOUND'],
      ['QUOTA_EXCEEDED'],
      ['QUOTA_EXCEEDED'],
      ['QUOTA_EXCEEDED'],
      ['QUOTA_EXCEEDED'],
    ]);
    expect(await storedIn(shop, roomId)).toEqual(['aliased 1', 'aliased 0', 'first']);
    expect(
      await until(
        () => messagesUsed(shop),
        (n) => n >= 3,
      ),
    ).toBe(3);
  });

  it('gives an operation asking for two messages as many as there is room for, refusing the rest', async () => {
    const shop = await t.signUp('Two At Once');
    const { roomId } = await shop.createRoomWithMessage('first');
    await limits(shop.tenantId, { messagesPerMonth: 2 });
    const both = await shop.raw({
      query:
        'mutation($r: ID!) { a: sendMessage(input: { roomId: $r, body: "one" }) { id } b: sendMessage(input: { roomId: $r, body: "two" }) { id } }',
      variables: { r: roomId },
    });
    expect(codes(both)).toEqual(['QUOTA_EXCEEDED']);
    expect(both.errors![0]).toMatchObject({ path: ['b'], extensions: { metric: 'messages', limit: 2 } });
    expect(await storedIn(shop, roomId)).toEqual(['one', 'first']);
    expect(
      await until(
        () => messagesUsed(shop),
        (n) => n >= 2,
      ),
    ).toBe(2);
  });

  it('counts webhook calls against the messages limit and refuses them past it, storing nothing', async () => {
    const shop = await t.signUp('Hooked Sends');
    const { roomId } = await shop.createRoomWithMessage('first');
    const post = await webhookOf(shop, roomId);
    await limits(shop.tenantId, { messagesPerMonth: 3 });
    const outcomes = [await post('hook 1'), await post('hook 2'), await post('hook 3')];
    expect(outcomes).toEqual([
      { status: 201, code: null },
      { status: 201, code: null },
      { status: 429, code: 'QUOTA_EXCEEDED' },
    ]);
    expect(await storedIn(shop, roomId)).toEqual(['hook 2', 'hook 1', 'first']);
    expect(
      await until(
        () => messagesUsed(shop),
        (n) => n >= 3,
      ),
    ).toBe(3);
    // The members' own sends see the same count.
    expect(codes(await shop.sendMessage(roomId, 'over'))).toEqual(['QUOTA_EXCEEDED']);
  });

  it('refuses webhook calls into a suspended or deleted tenant, storing nothing, and admits them again once it is active', async () => {
    const shop = await t.signUp('Hooked Suspended');
    const { roomId } = await shop.createRoomWithMessage('first');
    const post = await webhookOf(shop, roomId);
    expect(
      (await root.gql(SuspendTenantDocument, { id: shop.tenantId, reason: 'Unpaid invoices' })).errors,
    ).toBeUndefined();
    expect(await post('while suspended')).toEqual({ status: 403, code: 'TENANT_SUSPENDED' });
    expect((await root.gql(ReactivateTenantDocument, { id: shop.tenantId })).errors).toBeUndefined();
    expect(await post('after reactivation')).toEqual({ status: 201, code: null });
    expect((await shop.gql(DeleteTenantDocument, { id: shop.tenantId })).errors).toBeUndefined();
    expect(await post('while deleted')).toEqual({ status: 403, code: 'TENANT_DELETED' });
    expect((await shop.gql(RestoreTenantDocument, { id: shop.tenantId })).errors).toBeUndefined();
    expect(await storedIn(shop, roomId)).toEqual(['after reactivation', 'first']);
  });

  it('meters API keys and operations sent over WebSocket against the same limits', async () => {
    const shop = await t.signUp('Keys And Sockets');
    const { roomId } = await shop.createRoomWithMessage('first');
    const key = (
      await shop.gql(CreateApiKeyDocument, { input: { name: 'bot', permissions: ['messages:send', 'messages:read'] } })
    ).data!.createApiKey.secret;
    await limits(shop.tenantId, { messagesPerMonth: 3 });
    expect((await t.as(key).sendMessage(roomId, 'by key')).errors).toBeUndefined();
    const socket = connect(t.gatewayUrl, { authorization: `Bearer ${shop.token}` });
    sockets.push(socket);
    const send = (body: string) => {
      const op = socket.subscribe<{ sendMessage: { id: string } }>(
        'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }',
        { i: { roomId, body } },
      );
      return op.completed.then(() => op.results.flatMap((r) => (r.errors ?? []).map((e) => e.extensions?.code)));
    };
    expect(await send('by socket')).toEqual([]);
    expect(await send('one too many')).toEqual(['QUOTA_EXCEEDED']);
    expect(codes(await t.as(key).sendMessage(roomId, 'key, one too many'))).toEqual(['QUOTA_EXCEEDED']);
    expect(await storedIn(shop, roomId)).toEqual(['by socket', 'by key', 'first']);
  });
});

const suspend = (account: User) => root.gql(SuspendTenantDocument, { id: account.tenantId, reason: 'Unpaid invoices' });
const reactivate = (account: User) => root.gql(ReactivateTenantDocument, { id: account.tenantId });

describe('an operation that signs in or changes tenant', () => {
  it('is refused next to other root fields, so nothing runs as a session the operation was not admitted for', async () => {
    const shop = await t.signUp('Sign In And Send');
    const { roomId } = await shop.createRoomWithMessage('first');
    const other = (await shop.gql(CreateTenantDocument, { input: { name: 'Still Active' } })).data!.createTenant.id;
    const inOther = (await shop.gql(SwitchTenantDocument, { tenantId: other })).data!.switchTenant.accessToken;
    expect((await suspend(shop)).errors).toBeUndefined();
    const login = { email: shop.email, password: shop.password };
    const signInAndSend = await t.anonymous().raw({
      query:
        'mutation($l: LoginInput!, $m: SendMessageInput!) { login(input: $l) { accessToken } a: sendMessage(input: $m) { id } b: sendMessage(input: $m) { id } }',
      variables: { l: login, m: { roomId, body: 'as the new session' } },
    });
    expect([signInAndSend.status, codes(signInAndSend)]).toEqual([400, ['BAD_USER_INPUT']]);
    // Through a fragment and with @include too.
    const hidden = await t.anonymous().raw({
      query:
        'mutation($l: LoginInput!, $m: SendMessageInput!, $yes: Boolean!) { ...F sendMessage(input: $m) @include(if: $yes) { id } } fragment F on Mutation { login(input: $l) { accessToken } }',
      variables: { l: login, m: { roomId, body: 'through a fragment' }, yes: true },
    });
    expect(codes(hidden)).toEqual(['BAD_USER_INPUT']);

    // Moving into a suspended tenant from an active one, and sending there.
    const switchAndSend = await t.as(inOther).raw({
      query:
        'mutation($t: ID!, $m: SendMessageInput!) { switchTenant(tenantId: $t) { accessToken } sendMessage(input: $m) { id } }',
      variables: { t: shop.tenantId, m: { roomId, body: 'after switching' } },
    });
    expect([switchAndSend.status, codes(switchAndSend)]).toEqual([400, ['BAD_USER_INPUT']]);

    // Alone (or with __typename, or next to a field @skip leaves out) it is an ordinary sign-in.
    const alone = await t.anonymous().raw({
      query:
        'mutation($l: LoginInput!, $m: SendMessageInput!, $no: Boolean!) { __typename login(input: $l) { accessToken } sendMessage(input: $m) @skip(if: true) @include(if: $no) { id } }',
      variables: { l: login, m: { roomId, body: 'skipped' }, no: false },
    });
    expect(alone.errors).toBeUndefined();
    expect((await reactivate(shop)).errors).toBeUndefined();
    expect(await storedIn(shop, roomId)).toEqual(['first']);
  });
});

describe('concurrent calls', () => {
  it('never share the last unit of a limit: of twelve sends at once with room for one, one is stored', async () => {
    const shop = await t.signUp('Burst Sends');
    const { roomId } = await shop.createRoomWithMessage('first');
    await limits(shop.tenantId, { messagesPerMonth: 2 });
    const sends = await Promise.all(Array.from({ length: 12 }, (_, i) => shop.sendMessage(roomId, `burst ${i}`)));
    expect(sends.filter((r) => !r.errors).length).toBe(1);
    expect(sends.flatMap((r) => codes(r))).toEqual(Array(11).fill('QUOTA_EXCEEDED'));
    expect(await storedIn(shop, roomId)).toHaveLength(2);
    expect(
      await until(
        () => messagesUsed(shop),
        (n) => n >= 2,
      ),
    ).toBe(2);
  });

  it('never share the last unit through webhooks either: of twelve calls at once with room for one, one is stored', async () => {
    const shop = await t.signUp('Burst Hooks');
    const { roomId } = await shop.createRoomWithMessage('first');
    const post = await webhookOf(shop, roomId);
    await limits(shop.tenantId, { messagesPerMonth: 2 });
    const calls = await Promise.all(Array.from({ length: 12 }, (_, i) => post(`hook ${i}`)));
    expect(calls.filter((c) => c.status === 201)).toHaveLength(1);
    expect(calls.filter((c) => c.status !== 201)).toEqual(Array(11).fill({ status: 429, code: 'QUOTA_EXCEEDED' }));
    expect(await storedIn(shop, roomId)).toHaveLength(2);
    expect(
      await until(
        () => messagesUsed(shop),
        (n) => n >= 2,
      ),
    ).toBe(2);
  });
});

describe('usage counts what the subgraphs created', () => {
  it('counts a retried send (same clientMessageId) once, and accepts the retry of a stored message at the limit', async () => {
    const shop = await t.signUp('Retried Sends');
    const { roomId } = await shop.createRoomWithMessage('first');
    await limits(shop.tenantId, { messagesPerMonth: 3 });
    const tries = [
      await shop.sendMessage(roomId, 'once', { clientMessageId: 'retry-1' }),
      await shop.sendMessage(roomId, 'once', { clientMessageId: 'retry-1' }),
      await shop.sendMessage(roomId, 'once', { clientMessageId: 'retry-1' }),
    ];
    expect(tries.map((r) => r.errors)).toEqual([undefined, undefined, undefined]);
    expect(new Set(tries.map((r) => r.data!.sendMessage.id)).size).toBe(1);
    // Two messages used (first, once): one more fits.
    expect((await shop.sendMessage(roomId, 'third')).errors).toBeUndefined();
    // At the limit, a retry of a stored message is answered; a new one is refused.
    const retry = await shop.sendMessage(roomId, 'once', { clientMessageId: 'retry-1' });
    expect(retry.data?.sendMessage.id).toBe(tries[0].data!.sendMessage.id);
    expect(codes(await shop.sendMessage(roomId, 'fourth'))).toEqual(['QUOTA_EXCEEDED']);
    expect(await storedIn(shop, roomId)).toEqual(['third', 'once', 'first']);
    expect(
      await until(
        () => messagesUsed(shop),
        (n) => n >= 3,
      ),
    ).toBe(3);
  });
});

/** A recording relay in front of tenancy: which internal calls (status, quota figures) a gateway makes. */
async function tenancyRelay(): Promise<{ url: string; calls: string[]; close(): Promise<void> }> {
  const target = new URL(t.subgraphUrl('tenancy'));
  const calls: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls.push(req.url ?? '');
      const headers = Object.fromEntries(
        ['content-type', 'x-nexus-context', 'x-request-id'].flatMap((h) =>
          req.headers[h] ? [[h, String(req.headers[h])]] : [],
        ),
      );
      fetch(new URL(req.url ?? '/', target), {
        method: req.method,
        headers,
        body: req.method === 'GET' ? undefined : Buffer.concat(chunks),
      })
        .then(async (upstream) => {
          res.writeHead(upstream.status, {
            'content-type': upstream.headers.get('content-type') ?? 'application/json',
          });
          res.end(Buffer.from(await upstream.arrayBuffer()));
        })
        .catch(() => res.writeHead(502).end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('hooks that act for a tenant', () => {
  it('answer a caller without the webhook secret as unauthenticated whatever the tenant status or usage', async () => {
    const shop = await t.signUp('Unsigned Callers');
    const { roomId } = await shop.createRoomWithMessage('first');
    const post = await webhookOf(shop, roomId);
    const refused = { status: 401, code: 'INVALID_SIGNATURE' };
    expect(await post('unsigned', { secret: null })).toEqual(refused);
    expect((await suspend(shop)).errors).toBeUndefined();
    expect(await post('unsigned, suspended', { secret: null })).toEqual(refused);
    expect(await post('wrongly signed, suspended', { secret: 'whsec_guess' })).toEqual(refused);
    expect(await post('signed, suspended')).toEqual({ status: 403, code: 'TENANT_SUSPENDED' });
    expect((await reactivate(shop)).errors).toBeUndefined();
    await limits(shop.tenantId, { messagesPerMonth: 1 });
    expect(await post('unsigned, over the limit', { secret: null })).toEqual(refused);
    expect(await post('wrongly signed, over the limit', { secret: 'whsec_guess' })).toEqual(refused);
    expect(await post('signed, over the limit')).toEqual({ status: 429, code: 'QUOTA_EXCEEDED' });
    expect(await storedIn(shop, roomId)).toEqual(['first']);
  });

  it('make the gateway look up no tenant for calls that do not authenticate', async () => {
    const shop = await t.signUp('Looked Up');
    const { roomId } = await shop.createRoomWithMessage('first');
    const post = await webhookOf(shop, roomId);
    const relay = await tenancyRelay();
    const urls = Object.fromEntries(
      ['identity', 'tenancy', 'commerce', 'ledger', 'messaging', 'intelligence'].map((s) => [s, t.subgraphUrl(s)]),
    );
    const gateway = await startExtraGateway(t, { subgraphUrls: { ...urls, tenancy: relay.url } });
    try {
      const origin = `http://127.0.0.1:${gateway.port}`;
      const answers = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const path = `/hooks/messaging/${randomUUID()}/${randomUUID()}`;
        const ts = String(Math.floor(Date.now() / 1000));
        const headers: Record<string, string> =
          i % 2 ? { 'nexus-timestamp': ts, 'nexus-signature': `v1=${'0'.repeat(64)}` } : {};
        const res = await fetch(origin + path, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: '{"text":"hello"}',
        });
        answers.add(`${res.status} ${((await res.json()) as { error: { code: string } }).error.code}`);
      }
      expect([...answers].sort()).toEqual(['401 INVALID_SIGNATURE', '404 WEBHOOK_NOT_FOUND']);
      expect(await post('wrongly signed', { secret: 'whsec_guess', gateway: origin })).toEqual({
        status: 401,
        code: 'INVALID_SIGNATURE',
      });
      expect(relay.calls.filter((c) => c.startsWith('/internal/'))).toEqual([]);
      // A call that authenticates is admitted through the same gateway: that one asks tenancy.
      expect(await post('signed', { gateway: origin })).toEqual({ status: 201, code: null });
      expect(relay.calls).toEqual(expect.arrayContaining(['/internal/tenant-status', '/internal/quota-status']));
    } finally {
      await gateway.stop();
      await relay.close();
    }
  });
});

describe('joining a tenant', () => {
  async function invitationTo(owner: User) {
    const email = uniqueEmail('joining');
    const sent = await owner.gql(InviteUserDocument, { input: { email, role: 'member' } });
    if (sent.errors) return { email, token: null, codes: codes(sent) };
    return { email, token: tokenFrom(await waitForMail(t.config, email, SUBJECTS.invitation)), codes: [] };
  }
  const accept = (token: string) =>
    t.anonymous().gql(AcceptInvitationDocument, { input: { token, password: 'joining pass phrase' } });
  const membersOf = async (account: User) =>
    (await account.gql(CurrentTenantDocument, {})).data!.currentTenant.members.length;

  it('refuses an invitation accepted while the tenant is suspended, and any past its members limit', async () => {
    const shop = await t.signUp('Joining Limits');
    const invitations = [await invitationTo(shop), await invitationTo(shop), await invitationTo(shop)];
    expect((await suspend(shop)).errors).toBeUndefined();
    const whileSuspended = await accept(invitations[0].token!);
    expect([whileSuspended.status, codes(whileSuspended)]).toEqual([403, ['TENANT_SUSPENDED']]);
    expect((await reactivate(shop)).errors).toBeUndefined();
    // Room for one more member: of two accepted at once, one joins.
    await limits(shop.tenantId, { members: 2 });
    const both = await Promise.all([accept(invitations[0].token!), accept(invitations[1].token!)]);
    expect(both.map((r) => codes(r)).sort()).toEqual([[], ['QUOTA_EXCEEDED']]);
    const later = await accept(invitations[2].token!);
    expect([later.status, codes(later)]).toEqual([429, ['QUOTA_EXCEEDED']]);
    expect(await membersOf(shop)).toBe(2);
  });

  it('counts invitations not yet accepted against the members limit', async () => {
    const shop = await t.signUp('Pending Invitations');
    await limits(shop.tenantId, { members: 3 });
    const sent = [await invitationTo(shop), await invitationTo(shop), await invitationTo(shop)];
    expect(sent.map((s) => s.codes)).toEqual([[], [], ['QUOTA_EXCEEDED']]);
    // Accepting one turns its place into a member: still no room for another invitation.
    expect(codes(await accept(sent[0].token!))).toEqual([]);
    expect((await invitationTo(shop)).codes).toEqual(['QUOTA_EXCEEDED']);
  });
});
