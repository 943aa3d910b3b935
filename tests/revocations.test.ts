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
import { codes, gql, rawGql, type GqlResult } from './support/gql';
import {
  confirmEmail,
  joinByInvitation,
  signUp,
  totpCodeAt,
  turnOnTotp,
  uniqueEmail,
  type Account,
} from './support/fixtures';
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

async function login(gatewayUrl: string, account: Account, userAgent = 'jest') {
  const res = await gql(
    gatewayUrl,
    LoginDocument,
    { input: { email: account.email, password: account.password } },
    { headers: { 'user-agent': userAgent } },
  );
  if (!res.data) throw new Error(`login failed: ${JSON.stringify(res.errors)}`);
  return res.data.login;
}

/** HTTP status of `me` with this access token (200 accepted, 401 refused as signed out). */
async function meStatus(gatewayUrl: string, token: string): Promise<number> {
  return (await gql(gatewayUrl, MeDocument, {}, { token })).status;
}

/** Asks until the token is answered with `status` (401: refused as signed out); the time that took (throws after `ms`). */
async function refusedWithin(gatewayUrl: string, token: string, ms: number, status = 401): Promise<number> {
  const started = Date.now();
  for (;;) {
    if ((await meStatus(gatewayUrl, token)) === status) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`still not ${status} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** HTTP status of a messaging-only query (no identity call in it) with this credential. */
async function roomsStatus(gatewayUrl: string, credential: string): Promise<number> {
  return (await rawGql(gatewayUrl, { query: '{ rooms { id } }' }, { token: credential })).status;
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
    return platform.gatewayUrl!;
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

    const loggedOut = await signUp(gateway, 'Logout');
    expect((await gql(gateway, LogoutDocument, {}, { token: loggedOut.token })).data).toEqual({ logout: true });
    refused.logout = loggedOut.token;

    const everywhere = await signUp(gateway, 'Everywhere');
    const [a, b] = [await login(gateway, everywhere), await login(gateway, everywhere)];
    expect((await gql(gateway, LogoutEverywhereDocument, {}, { token: a.accessToken })).data).toEqual({
      logoutEverywhere: true,
    });
    Object.assign(refused, {
      'logoutEverywhere (caller)': a.accessToken,
      'logoutEverywhere (other device)': b.accessToken,
      'logoutEverywhere (first session)': everywhere.token,
    });

    const devices = await signUp(gateway, 'Devices');
    const phone = await login(gateway, devices, 'phone');
    const laptop = await login(gateway, devices, 'laptop');
    const list = await gql(gateway, SessionsDocument, {}, { token: laptop.accessToken });
    const phoneSession = list.data!.sessions.find((s) => s.userAgent === 'phone')!;
    expect(
      (await gql(gateway, RevokeSessionDocument, { id: phoneSession.id }, { token: laptop.accessToken })).data,
    ).toEqual({ revokeSession: true });
    refused.revokeSession = phone.accessToken;
    kept['the device that revoked'] = laptop.accessToken;

    const forgetful = await signUp(gateway, 'Reset');
    await gql(gateway, RequestPasswordResetDocument, { email: forgetful.email });
    const resetToken = tokenFrom(await waitForMail(config, forgetful.email, SUBJECTS.reset));
    expect(
      (
        await gql(gateway, ResetPasswordDocument, {
          input: { token: resetToken, newPassword: 'a brand new pass phrase' },
        })
      ).data,
    ).toEqual({ resetPassword: true });
    refused['password reset'] = forgetful.token;

    const changer = await signUp(gateway, 'Change');
    const stillIn = await login(gateway, changer);
    const changed = await gql(
      gateway,
      ChangePasswordDocument,
      { input: { currentPassword: changer.password, newPassword: 'another new pass phrase' } },
      { token: stillIn.accessToken },
    );
    expect(changed.data).toEqual({ changePassword: true });
    refused['password change (other session)'] = changer.token;
    kept['the session that changed the password'] = stillIn.accessToken;

    const registered = await gql(gateway, RegisterDocument, {
      input: { email: uniqueEmail('reuse'), password: 'correct horse battery', tenantName: 'Reuse' },
    });
    const stolen = registered.data!.register.refreshToken;
    const rotated = (await gql(gateway, RefreshSessionDocument, { refreshToken: stolen })).data!.refreshSession;
    expect(codes(await gql(gateway, RefreshSessionDocument, { refreshToken: stolen }))).toEqual([
      'REFRESH_TOKEN_REUSED',
    ]);
    refused['refresh-token reuse'] = rotated.accessToken;

    for (const [how, token] of Object.entries(refused))
      expect([how, await meStatus(gateway, token)]).toEqual([how, 401]);
    for (const [how, token] of Object.entries(kept)) expect([how, await meStatus(gateway, token)]).toEqual([how, 200]);

    await platform!.stop();
    platform = undefined;
    gateway = await start();

    for (const [how, token] of Object.entries(refused))
      expect([how, await meStatus(gateway, token)]).toEqual([how, 401]);
    for (const [how, token] of Object.entries(kept)) expect([how, await meStatus(gateway, token)]).toEqual([how, 200]);
    // A WebSocket with a revoked token is refused too.
    const socket = connect(gateway, { authorization: `Bearer ${refused.revokeSession}` });
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
      const root = await signUp(t.gatewayUrl, 'Operator', ROOT);
      await confirmEmail(t.gatewayUrl, t.config, ROOT);
      const { secret } = await turnOnTotp(t.gatewayUrl, root.token);
      const other = await signUp(t.gatewayUrl, 'Elsewhere');
      expect((await gql(t.gatewayUrl, LogoutDocument, {}, { token: root.token })).data).toEqual({ logout: true });
      expect(await meStatus(t.gatewayUrl, root.token)).toBe(401);
      // The late gateway has not looked at identity's list since: it still takes the token for reading…
      expect(await meStatus(late.url, root.token)).toBe(200);
      // …but nothing it asks of identity outlives the revocation.
      const token = root.token;
      const attempts: [string, () => Promise<GqlResult<unknown>>][] = [
        ['switchTenant', () => gql(late.url, SwitchTenantDocument, { tenantId: root.tenantId }, { token })],
        [
          'impersonateTenant',
          () =>
            gql(late.url, ImpersonateTenantDocument, { tenantId: other.tenantId, reason: 'support ticket' }, { token }),
        ],
        [
          'createApiKey',
          () =>
            gql(
              late.url,
              CreateApiKeyDocument,
              { input: { name: 'escape', permissions: ['messages:read'] } },
              { token },
            ),
        ],
        [
          'disableTotp',
          () =>
            gql(
              late.url,
              DisableTotpDocument,
              { input: { password: root.password, code: totpCodeAt(secret, 1) } },
              { token },
            ),
        ],
        [
          'changePassword',
          () =>
            gql(
              late.url,
              ChangePasswordDocument,
              { input: { currentPassword: root.password, newPassword: 'taken over pass phrase' } },
              { token },
            ),
        ],
        [
          'inviteUser',
          () =>
            gql(
              late.url,
              InviteUserDocument,
              { input: { email: uniqueEmail('accomplice'), role: 'admin' } },
              { token },
            ),
        ],
      ];
      for (const [name, attempt] of attempts)
        expect([name, codes(await attempt())]).toEqual([name, ['UNAUTHENTICATED']]);
      // Signing out again stays an answer, not an error.
      expect((await gql(late.url, LogoutDocument, {}, { token })).data).toEqual({ logout: true });
      // The account is as it was: its password still signs in, and asks for the second factor.
      const again = await gql(t.gatewayUrl, LoginDocument, { input: { email: root.email, password: root.password } });
      expect(codes(again)).toEqual(['TWO_FACTOR_REQUIRED']);
    } finally {
      await late.stop();
    }
  }, 60_000);

  it('refuse a revoked API key within the poll interval though its announcement never came, and close its sockets', async () => {
    const owner = await signUp(t.gatewayUrl, 'Keys');
    const created = await gql(
      t.gatewayUrl,
      CreateApiKeyDocument,
      { input: { name: 'ci', permissions: ['messages:read'] } },
      { token: owner.token },
    );
    const { secret, apiKey } = created.data!.createApiKey;
    const late = await deafGateway(t, { revocationPollMs: POLL_MS });
    const socket = connect(late.url, { authorization: `Bearer ${secret}` });
    try {
      await acknowledged(socket);
      expect(await roomsStatus(late.url, secret)).toBe(200);
      expect((await gql(t.gatewayUrl, RevokeApiKeyDocument, { id: apiKey.id }, { token: owner.token })).data).toEqual({
        revokeApiKey: true,
      });
      // Remembered by the late gateway for 30 s, were it not for identity's list.
      expect(await refusedWithin(late.url, secret, POLL_MS + 1_500)).toBeLessThanOrEqual(POLL_MS + 1_500);
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
      const account = await signUp(t.gatewayUrl, 'Skew');
      expect(await meStatus(gateway.url, account.token)).toBe(200);
      expect((await gql(t.gatewayUrl, LogoutDocument, {}, { token: account.token })).data).toEqual({ logout: true });
      await refusedWithin(gateway.url, account.token, 2_000);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await meStatus(gateway.url, account.token)).toBe(401);
    } finally {
      await gateway.stop();
    }
  }, 30_000);

  it('read a long list of revocations page by page at start, ties of one instant included', async () => {
    const account = await signUp(t.gatewayUrl, 'Many');
    const sessions = [account.token];
    for (let i = 0; i < 5; i++) sessions.push((await login(t.gatewayUrl, account)).accessToken);
    // One statement revokes them all: they share one revocation time, and pages of two split them.
    expect((await gql(t.gatewayUrl, LogoutEverywhereDocument, {}, { token: account.token })).data).toEqual({
      logoutEverywhere: true,
    });
    const late = await deafGateway(t, { revocationPageSize: 2, revocationPollMs: 60_000 });
    try {
      for (const [i, token] of sessions.entries()) expect([i, await meStatus(late.url, token)]).toEqual([i, 401]);
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
    const account = await signUp(t.gatewayUrl, 'Hiccup');
    let open: WsSession | undefined;
    let late: WsSession | undefined;
    try {
      // Rights are read (and cached) while identity answers; a socket is open on the deaf gateway.
      expect(await roomsStatus(hearing.url, account.token)).toBe(200);
      expect(await roomsStatus(deaf.url, account.token)).toBe(200);
      open = connect(deaf.url, { authorization: `Bearer ${account.token}` });
      await acknowledged(open);

      identityHop.sever();
      const started = Date.now();
      for (;;) {
        const status = await roomsStatus(deaf.url, account.token);
        if (status === 503) break;
        expect(status).toBe(200);
        if (Date.now() - started > 20_000) throw new Error('the deaf gateway never refused');
        await new Promise((r) => setTimeout(r, 250));
      }
      // The list is stale by now at both; the gateway that hears announcements still trusts its own.
      expect(await roomsStatus(hearing.url, account.token)).toBe(200);
      // The deaf one asks sockets to come back later, never to sign in again: new ones, and an open one checked again.
      late = connect(deaf.url, { authorization: `Bearer ${account.token}` });
      expect(await late.closed).toEqual({ code: 1013, reason: 'Try again later' });
      open.subscribe('subscription { unreadCounts { roomId } }');
      expect(await open.closed).toEqual({ code: 1013, reason: 'Try again later' });
      const ready = await fetch(deaf.url.replace(/\/graphql$/, '/ready'));
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { revocations: { current: boolean } }).revocations.current).toBe(false);

      identityHop.restore();
      expect(await refusedWithin(deaf.url, account.token, 5_000, 200)).toBeLessThan(5_000);
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
    const account = await signUp(t.gatewayUrl, 'Outage');
    const phone = await login(t.gatewayUrl, account, 'phone');
    const laptop = await login(t.gatewayUrl, account, 'laptop');
    const phoneSession = (
      await gql(t.gatewayUrl, SessionsDocument, {}, { token: laptop.accessToken })
    ).data!.sessions.find((s) => s.userAgent === 'phone')!;
    const socket = connect(t.gatewayUrl, { authorization: `Bearer ${phone.accessToken}` });
    socket.subscribe('subscription { unreadCounts { roomId } }');
    expect(await meStatus(t.gatewayUrl, phone.accessToken)).toBe(200);

    proxy.sever();
    const asked = Date.now();
    const revoked = await gql(
      t.gatewayUrl,
      RevokeSessionDocument,
      { id: phoneSession.id },
      { token: laptop.accessToken },
    );
    const took = Date.now() - asked;
    expect(revoked.errors).toBeUndefined();
    expect(revoked.data).toEqual({ revokeSession: true });
    // Not the 8 s a wait on Redis takes; generous for a busy machine.
    expect(took).toBeLessThan(4_000);

    // The announcement could not go out; the gateway's next look at identity's list finds the revocation.
    expect(await refusedWithin(t.gatewayUrl, phone.accessToken, POLL_MS + 1_000)).toBeLessThanOrEqual(POLL_MS + 1_000);
    expect((await socket.closed).code).toBe(4401);
    expect(await meStatus(t.gatewayUrl, laptop.accessToken)).toBe(200);

    proxy.restore();
    expect(await meStatus(t.gatewayUrl, phone.accessToken)).toBe(401);
    // A gateway started after the outage (nothing was remembered in Redis) refuses it as well.
    const late = await startExtraGateway(t);
    try {
      expect(await meStatus(late.url, phone.accessToken)).toBe(401);
      expect(await meStatus(late.url, laptop.accessToken)).toBe(200);
    } finally {
      await late.stop();
    }
    await socket.dispose();
  }, 60_000);
  it('answers removeUser, revokeSuperAdmin and revokeApiKey promptly, and every gateway learns of them from identity', async () => {
    const owner = await signUp(t.gatewayUrl, 'Removals');
    const member = await joinByInvitation(t.gatewayUrl, t.config, owner);
    const root = await signUp(t.gatewayUrl, 'Operator', ROOT);
    await confirmEmail(t.gatewayUrl, t.config, ROOT);
    await turnOnTotp(t.gatewayUrl, root.token);
    expect(
      (await gql(t.gatewayUrl, GrantSuperAdminDocument, { email: owner.email }, { token: root.token })).errors,
    ).toBeUndefined();
    const { secret, apiKey } = (
      await gql(
        t.gatewayUrl,
        CreateApiKeyDocument,
        { input: { name: 'ci', permissions: ['messages:read'] } },
        { token: owner.token },
      )
    ).data!.createApiKey;
    expect(await meStatus(t.gatewayUrl, member.token)).toBe(200);
    expect(await roomsStatus(t.gatewayUrl, secret)).toBe(200);

    proxy.sever();
    const changes: [string, () => Promise<GqlResult<unknown>>, unknown][] = [
      [
        'removeUser',
        () => gql(t.gatewayUrl, RemoveUserDocument, { userId: member.userId }, { token: owner.token }),
        { removeUser: true },
      ],
      [
        'revokeSuperAdmin',
        () => gql(t.gatewayUrl, RevokeSuperAdminDocument, { userId: owner.userId }, { token: root.token }),
        { revokeSuperAdmin: true },
      ],
      [
        'revokeApiKey',
        () => gql(t.gatewayUrl, RevokeApiKeyDocument, { id: apiKey.id }, { token: owner.token }),
        { revokeApiKey: true },
      ],
    ];
    for (const [name, change, answer] of changes) {
      const asked = Date.now();
      const res = await change();
      expect([name, res.errors, res.data]).toEqual([name, undefined, answer]);
      expect([name, Date.now() - asked < 4_000]).toEqual([name, true]);
    }
    // The announcements could not go out; the gateway's next look at identity's list finds them.
    expect(await refusedWithin(t.gatewayUrl, member.token, POLL_MS + 1_500)).toBeLessThanOrEqual(POLL_MS + 1_500);
    expect(await refusedWithin(t.gatewayUrl, secret, POLL_MS + 1_500)).toBeLessThanOrEqual(POLL_MS + 1_500);
    proxy.restore();
  }, 60_000);
});
