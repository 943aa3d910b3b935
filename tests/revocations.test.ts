import { randomUUID } from 'node:crypto';
import {
  ChangePasswordDocument,
  CreateApiKeyDocument,
  DisableTotpDocument,
  ImpersonateTenantDocument,
  InviteUserDocument,
  LoginDocument,
  LogoutDocument,
  LogoutEverywhereDocument,
  MeDocument,
  RefreshSessionDocument,
  RegisterDocument,
  RequestPasswordResetDocument,
  ResetPasswordDocument,
  RevokeApiKeyDocument,
  RevokeSessionDocument,
  RemoveUserDocument,
  RevokeSuperAdminDocument,
  GrantSuperAdminDocument,
  SessionsDocument,
  SwitchTenantDocument,
} from './generated/graphql';
import { callersAt, type ApiClient } from './support/client';
import { codes, type GqlResult } from './support/gql';
import { totpCodeAt, uniqueEmail } from './support/fixtures';
import { SUBJECTS, tokenFrom, waitForMail } from './support/mailbox';
import {
  freshDatabase,
  startExtraGateway,
  startTestPlatform,
  testConfig,
  testKeys,
  type TestPlatform,
} from './support/platform';
import { dropRedisKeys } from './support/redis';
import { connect, type WsSession } from './support/ws';
import { CuttableProxy } from './support/proxies';
import { startPlatform, type Platform } from '../app/platform';
import { MemoryPubSub } from '../kernel/pubsub';
import type { GatewayOptions } from '../gateway/gateway';
import { SUBGRAPHS } from '../kernel/services';
import type { DatabaseHandle } from '../kernel/db/database';

/**
 * A revoked session stays revoked: the record is identity's sessions table, which every gateway reads at
 * start and every REVOCATION_POLL_MS (2 s). Announcements (in memory, or Redis) only make it apply sooner.
 */
const POLL_MS = 2_000;

/** HTTP status of `me` for this caller (200 accepted, 401 refused as signed out). */
async function meStatus(caller: ApiClient): Promise<number> {
  return (await caller.gql(MeDocument, {})).status;
}

/** Asks until the caller is answered with `status` (401: refused as signed out); the time that took (throws after `ms`). */
async function refusedWithin(caller: ApiClient, ms: number, status = 401): Promise<number> {
  const started = Date.now();
  for (;;) {
    if ((await meStatus(caller)) === status) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`still not ${status} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** HTTP status of a messaging-only query (no identity call in it) for this caller (a session or an API key). */
async function roomsStatus(caller: ApiClient): Promise<number> {
  return (await caller.raw({ query: '{ rooms { id } }' })).status;
}

/** Resolves once the socket's connection is acknowledged. */
function acknowledged(socket: WsSession): Promise<void> {
  return new Promise((resolve) => socket.client.on('connected', () => resolve()));
}

/**
 * A further gateway that hears none of identity's announcements, as one in another process without Redis
 * (or one whose announcement was lost): it learns of revocations only from identity's list.
 */
function deafGateway(t: TestPlatform, overrides: Partial<GatewayOptions> = {}) {
  return startExtraGateway(t, { pubsub: new MemoryPubSub(), ...overrides });
}

describe('revocations survive a restart of the whole platform without Redis', () => {
  let database: DatabaseHandle;
  let platform: Platform | undefined;
  const config = testConfig();
  const keys = testKeys();
  const start = async () => {
    // The same database (not dropped between the two runs), the same signing keys, a fresh process state.
    platform = await startPlatform({
      config,
      keys,
      services: [...SUBGRAPHS, 'gateway'],
      database: { ...database, stop: async () => {} },
    });
    const url = platform.gatewayUrl!;
    return { url, ...callersAt(url, config) };
  };

  beforeAll(async () => {
    database = await freshDatabase();
  });
  afterAll(async () => {
    await platform?.stop();
    await database?.stop();
  });

  it('refuses, after the restart, every access token revoked before it: logout, logoutEverywhere, revokeSession, password reset and change, refresh-token reuse', async () => {
    let gateway = await start();
    const refused: Record<string, string> = {};
    const kept: Record<string, string> = {};

    const loggedOut = await gateway.signUp('Logout');
    expect((await loggedOut.gql(LogoutDocument, {})).data).toEqual({ logout: true });
    refused.logout = loggedOut.token;

    const everywhere = await gateway.signUp('Everywhere');
    const [a, b] = [await gateway.login(everywhere), await gateway.login(everywhere)];
    expect((await gateway.as(a.accessToken).gql(LogoutEverywhereDocument, {})).data).toEqual({
      logoutEverywhere: true,
    });
    Object.assign(refused, {
      'logoutEverywhere (caller)': a.accessToken,
      'logoutEverywhere (other device)': b.accessToken,
      'logoutEverywhere (first session)': everywhere.token,
    });

    const devices = await gateway.signUp('Devices');
    const phone = await gateway.login(devices, 'phone');
    const laptop = await gateway.login(devices, 'laptop');
    const list = await gateway.as(laptop.accessToken).gql(SessionsDocument, {});
    const phoneSession = list.data!.sessions.find((s) => s.userAgent === 'phone')!;
    expect((await gateway.as(laptop.accessToken).gql(RevokeSessionDocument, { id: phoneSession.id })).data).toEqual({
      revokeSession: true,
    });
    refused.revokeSession = phone.accessToken;
    kept['the device that revoked'] = laptop.accessToken;

    const forgetful = await gateway.signUp('Reset');
    await gateway.anonymous().gql(RequestPasswordResetDocument, { email: forgetful.email });
    const resetToken = tokenFrom(await waitForMail(config, forgetful.email, SUBJECTS.reset));
    expect(
      (
        await gateway.anonymous().gql(ResetPasswordDocument, {
          input: { token: resetToken, newPassword: 'a brand new pass phrase' },
        })
      ).data,
    ).toEqual({ resetPassword: true });
    refused['password reset'] = forgetful.token;

    const changer = await gateway.signUp('Change');
    const stillIn = await gateway.login(changer);
    const changed = await gateway.as(stillIn.accessToken).gql(ChangePasswordDocument, {
      input: { currentPassword: changer.password, newPassword: 'another new pass phrase' },
    });
    expect(changed.data).toEqual({ changePassword: true });
    refused['password change (other session)'] = changer.token;
    kept['the session that changed the password'] = stillIn.accessToken;

    const registered = await gateway.anonymous().gql(RegisterDocument, {
      input: { email: uniqueEmail('reuse'), password: 'correct horse battery', tenantName: 'Reuse' },
    });
    const stolen = registered.data!.register.refreshToken;
    const rotated = (await gateway.anonymous().gql(RefreshSessionDocument, { refreshToken: stolen })).data!
      .refreshSession;
    expect(codes(await gateway.anonymous().gql(RefreshSessionDocument, { refreshToken: stolen }))).toEqual([
      'REFRESH_TOKEN_REUSED',
    ]);
    refused['refresh-token reuse'] = rotated.accessToken;

    for (const [how, token] of Object.entries(refused))
      expect([how, await meStatus(gateway.as(token))]).toEqual([how, 401]);
    for (const [how, token] of Object.entries(kept))
      expect([how, await meStatus(gateway.as(token))]).toEqual([how, 200]);

    await platform!.stop();
    platform = undefined;
    gateway = await start();

    for (const [how, token] of Object.entries(refused))
      expect([how, await meStatus(gateway.as(token))]).toEqual([how, 401]);
    for (const [how, token] of Object.entries(kept))
      expect([how, await meStatus(gateway.as(token))]).toEqual([how, 200]);
    // A WebSocket with a revoked token is refused too.
    const socket = connect(gateway.url, { authorization: `Bearer ${refused.revokeSession}` });
    expect((await socket.closed).code).toBe(4401);
    await socket.dispose();
  }, 120_000);
});

describe('gateways that have not learnt of a revocation yet', () => {
  const ROOT = uniqueEmail('root');
  let t: TestPlatform;
  beforeAll(async () => {
    t = await startTestPlatform(undefined, { SUPER_ADMIN_EMAILS: ROOT });
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
  });

  it('let an access token of a revoked session open no new session, key or second factor, nor change anything through identity', async () => {
    const late = await deafGateway(t, { revocationPollMs: 60_000 });
    try {
      const root = await t.signUp('Operator', ROOT);
      await root.confirmEmail();
      const { secret } = await root.turnOnTotp();
      const other = await t.signUp('Elsewhere');
      expect((await root.gql(LogoutDocument, {})).data).toEqual({ logout: true });
      expect(await meStatus(root)).toBe(401);
      // The late gateway has not looked at identity's list since: it still takes the token for reading…
      expect(await meStatus(root.via(late.url))).toBe(200);
      // …but nothing it asks of identity outlives the revocation.
      const stale = root.via(late.url);
      const attempts: [string, () => Promise<GqlResult<unknown>>][] = [
        ['switchTenant', () => stale.gql(SwitchTenantDocument, { tenantId: root.tenantId })],
        [
          'impersonateTenant',
          () => stale.gql(ImpersonateTenantDocument, { tenantId: other.tenantId, reason: 'support ticket' }),
        ],
        [
          'createApiKey',
          () => stale.gql(CreateApiKeyDocument, { input: { name: 'escape', permissions: ['messages:read'] } }),
        ],
        [
          'disableTotp',
          () => stale.gql(DisableTotpDocument, { input: { password: root.password, code: totpCodeAt(secret, 1) } }),
        ],
        [
          'changePassword',
          () =>
            stale.gql(ChangePasswordDocument, {
              input: { currentPassword: root.password, newPassword: 'taken over pass phrase' },
            }),
        ],
        [
          'inviteUser',
          () => stale.gql(InviteUserDocument, { input: { email: uniqueEmail('accomplice'), role: 'admin' } }),
        ],
      ];
      for (const [name, attempt] of attempts)
        expect([name, codes(await attempt())]).toEqual([name, ['UNAUTHENTICATED']]);
      // Signing out again stays an answer, not an error.
      expect((await stale.gql(LogoutDocument, {})).data).toEqual({ logout: true });
      // The account is as it was: its password still signs in, and asks for the second factor.
      const again = await t.anonymous().gql(LoginDocument, { input: { email: root.email, password: root.password } });
      expect(codes(again)).toEqual(['TWO_FACTOR_REQUIRED']);
    } finally {
      await late.stop();
    }
  }, 60_000);

  it('refuse a revoked API key within the poll interval though its announcement never came, and close its sockets', async () => {
    const owner = await t.signUp('Keys');
    const created = await owner.gql(CreateApiKeyDocument, { input: { name: 'ci', permissions: ['messages:read'] } });
    const { secret, apiKey } = created.data!.createApiKey;
    const late = await deafGateway(t, { revocationPollMs: POLL_MS });
    const socket = connect(late.url, { authorization: `Bearer ${secret}` });
    try {
      await acknowledged(socket);
      expect(await roomsStatus(t.at(late.url).as(secret))).toBe(200);
      expect((await owner.gql(RevokeApiKeyDocument, { id: apiKey.id })).data).toEqual({
        revokeApiKey: true,
      });
      // Remembered by the late gateway for 30 s, were it not for identity's list.
      expect(await refusedWithin(t.at(late.url).as(secret), POLL_MS + 1_500)).toBeLessThanOrEqual(POLL_MS + 1_500);
      expect((await socket.closed).code).toBe(4401);
    } finally {
      await socket.dispose();
      await late.stop();
    }
  }, 30_000);

  it('keep refusing a revoked session past their own access-token lifetime by a margin for clocks that differ', async () => {
    // Access tokens of 1 s at this gateway (identity issues them for 15 min): the margin alone keeps it refused.
    const gateway = await startExtraGateway(t, { accessTokenTtlSeconds: 1, revocationPollMs: 60_000 });
    try {
      const account = await t.signUp('Skew');
      expect(await meStatus(account.via(gateway.url))).toBe(200);
      expect((await account.gql(LogoutDocument, {})).data).toEqual({ logout: true });
      await refusedWithin(account.via(gateway.url), 2_000);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await meStatus(account.via(gateway.url))).toBe(401);
    } finally {
      await gateway.stop();
    }
  }, 30_000);

  it('read a long list of revocations page by page at start, ties of one instant included', async () => {
    const account = await t.signUp('Many');
    const sessions = [account.token];
    for (let i = 0; i < 5; i++) sessions.push((await t.login(account)).accessToken);
    // One statement revokes them all: they share one revocation time, and pages of two split them.
    expect((await account.gql(LogoutEverywhereDocument, {})).data).toEqual({
      logoutEverywhere: true,
    });
    const late = await deafGateway(t, { revocationPageSize: 2, revocationPollMs: 60_000 });
    try {
      for (const [i, token] of sessions.entries())
        expect([i, await meStatus(t.at(late.url).as(token))]).toEqual([i, 401]);
    } finally {
      await late.stop();
    }
  }, 60_000);
});

describe('a gateway that can no longer read the list of revocations', () => {
  let t: TestPlatform;
  let identityHop: CuttableProxy;
  beforeAll(async () => {
    t = await startTestPlatform();
    identityHop = new CuttableProxy(new URL(t.subgraphUrl('identity')));
  }, 60_000);
  afterAll(async () => {
    await identityHop?.close();
    await t?.stop();
  });

  it('keeps serving sessions while announcements cannot have been lost, and otherwise refuses them with 503 (WebSockets 1013) once its list is stale', async () => {
    const identityUrl = await identityHop.listen();
    const subgraphUrls = { ...Object.fromEntries(SUBGRAPHS.map((s) => [s, t.subgraphUrl(s)])), identity: identityUrl };
    // Same process as identity, sharing its pub/sub: every announcement arrives.
    const hearing = await startExtraGateway(t, { subgraphUrls, revocationPollMs: 500 });
    // Hears nothing: only the list tells it of a revocation.
    const deaf = await deafGateway(t, { subgraphUrls, revocationPollMs: 500 });
    const account = await t.signUp('Hiccup');
    let open: WsSession | undefined;
    let late: WsSession | undefined;
    try {
      // Rights are read (and cached) while identity answers; a socket is open on the deaf gateway.
      expect(await roomsStatus(account.via(hearing.url))).toBe(200);
      expect(await roomsStatus(account.via(deaf.url))).toBe(200);
      open = connect(deaf.url, { authorization: `Bearer ${account.token}` });
      await acknowledged(open);

      identityHop.sever();
      const started = Date.now();
      for (;;) {
        const status = await roomsStatus(account.via(deaf.url));
        if (status === 503) break;
        expect(status).toBe(200);
        if (Date.now() - started > 20_000) throw new Error('the deaf gateway never refused');
        await new Promise((r) => setTimeout(r, 250));
      }
      // The list is stale by now at both; the gateway that hears announcements still trusts its own.
      expect(await roomsStatus(account.via(hearing.url))).toBe(200);
      // The deaf one asks sockets to come back later, never to sign in again: new ones, and an open one checked again.
      late = connect(deaf.url, { authorization: `Bearer ${account.token}` });
      expect(await late.closed).toEqual({ code: 1013, reason: 'Try again later' });
      open.subscribe('subscription { unreadCounts { roomId } }');
      expect(await open.closed).toEqual({ code: 1013, reason: 'Try again later' });
      const ready = await fetch(deaf.url.replace(/\/graphql$/, '/ready'));
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { revocations: { current: boolean } }).revocations.current).toBe(false);

      identityHop.restore();
      expect(await refusedWithin(account.via(deaf.url), 5_000, 200)).toBeLessThan(5_000);
    } finally {
      identityHop.restore();
      await open?.dispose();
      await late?.dispose();
      await hearing.stop();
      await deaf.stop();
    }
  }, 60_000);
});

const redisUrl = process.env.REDIS_URL;
const withRedis = redisUrl ? describe : describe.skip;

withRedis('revocations while Redis is unreachable', () => {
  const ROOT = uniqueEmail('root');
  const prefix = `nexus-test-${randomUUID().slice(0, 8)}:`;
  let proxy: CuttableProxy;
  let t: TestPlatform;

  beforeAll(async () => {
    proxy = new CuttableProxy(new URL(redisUrl!));
    const viaProxy = await proxy.listen();
    t = await startTestPlatform(undefined, {
      REDIS_URL: viaProxy,
      REDIS_PREFIX: prefix,
      REVOCATION_POLL_MS: String(POLL_MS),
      SUPER_ADMIN_EMAILS: ROOT,
    });
  }, 60_000);
  afterAll(async () => {
    proxy?.restore();
    await t?.stop();
    await proxy?.close();
    await dropRedisKeys(prefix);
  }, 30_000);

  it('revokeSession answers at once, and the token is refused during the outage (within the poll interval) and after it', async () => {
    const account = await t.signUp('Outage');
    const phone = await t.login(account, 'phone');
    const laptop = await t.login(account, 'laptop');
    const phoneSession = (await t.as(laptop.accessToken).gql(SessionsDocument, {})).data!.sessions.find(
      (s) => s.userAgent === 'phone',
    )!;
    const socket = connect(t.gatewayUrl, { authorization: `Bearer ${phone.accessToken}` });
    socket.subscribe('subscription { unreadCounts { roomId } }');
    expect(await meStatus(t.as(phone.accessToken))).toBe(200);

    proxy.sever();
    const asked = Date.now();
    const revoked = await t.as(laptop.accessToken).gql(RevokeSessionDocument, { id: phoneSession.id });
    const took = Date.now() - asked;
    expect(revoked.errors).toBeUndefined();
    expect(revoked.data).toEqual({ revokeSession: true });
    // Not the 8 s a wait on Redis takes; generous for a busy machine.
    expect(took).toBeLessThan(4_000);

    // The announcement could not go out; the gateway's next look at identity's list finds the revocation.
    expect(await refusedWithin(t.as(phone.accessToken), POLL_MS + 1_000)).toBeLessThanOrEqual(POLL_MS + 1_000);
    expect((await socket.closed).code).toBe(4401);
    expect(await meStatus(t.as(laptop.accessToken))).toBe(200);

    proxy.restore();
    expect(await meStatus(t.as(phone.accessToken))).toBe(401);
    // A gateway started after the outage (nothing was remembered in Redis) refuses it as well.
    const late = await startExtraGateway(t);
    try {
      expect(await meStatus(t.at(late.url).as(phone.accessToken))).toBe(401);
      expect(await meStatus(t.at(late.url).as(laptop.accessToken))).toBe(200);
    } finally {
      await late.stop();
    }
    await socket.dispose();
  }, 60_000);
  it('answers removeUser, revokeSuperAdmin and revokeApiKey promptly, and every gateway learns of them from identity', async () => {
    const owner = await t.signUp('Removals');
    const member = await owner.invite();
    const root = await t.signUp('Operator', ROOT);
    await root.confirmEmail();
    await root.turnOnTotp();
    expect((await root.gql(GrantSuperAdminDocument, { email: owner.email })).errors).toBeUndefined();
    const { secret, apiKey } = (
      await owner.gql(CreateApiKeyDocument, { input: { name: 'ci', permissions: ['messages:read'] } })
    ).data!.createApiKey;
    expect(await meStatus(member)).toBe(200);
    expect(await roomsStatus(t.as(secret))).toBe(200);

    proxy.sever();
    const changes: [string, () => Promise<GqlResult<unknown>>, unknown][] = [
      ['removeUser', () => owner.gql(RemoveUserDocument, { userId: member.userId }), { removeUser: true }],
      [
        'revokeSuperAdmin',
        () => root.gql(RevokeSuperAdminDocument, { userId: owner.userId }),
        { revokeSuperAdmin: true },
      ],
      ['revokeApiKey', () => owner.gql(RevokeApiKeyDocument, { id: apiKey.id }), { revokeApiKey: true }],
    ];
    for (const [name, change, answer] of changes) {
      const asked = Date.now();
      const res = await change();
      expect([name, res.errors, res.data]).toEqual([name, undefined, answer]);
      expect([name, Date.now() - asked < 4_000]).toEqual([name, true]);
    }
    // The announcements could not go out; the gateway's next look at identity's list finds them.
    expect(await refusedWithin(member, POLL_MS + 1_500)).toBeLessThanOrEqual(POLL_MS + 1_500);
    expect(await refusedWithin(t.as(secret), POLL_MS + 1_500)).toBeLessThanOrEqual(POLL_MS + 1_500);
    proxy.restore();
  }, 60_000);
});
