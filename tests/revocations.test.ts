import { randomUUID } from 'node:crypto';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import {
  ChangePasswordDocument,
  LoginDocument,
  LogoutDocument,
  LogoutEverywhereDocument,
  MeDocument,
  RefreshSessionDocument,
  RegisterDocument,
  RequestPasswordResetDocument,
  ResetPasswordDocument,
  RevokeSessionDocument,
  SessionsDocument,
} from './generated/graphql';
import { codes, gql } from './support/gql';
import { signUp, uniqueEmail, type Account } from './support/fixtures';
import { SUBJECTS, tokenFrom, waitForMail } from './support/mailbox';
import { freshDatabase, startExtraGateway, startTestPlatform, testConfig, testKeys, type TestPlatform } from './support/platform';
import { dropRedisKeys } from './support/redis';
import { connect } from './support/ws';
import { startPlatform, type Platform } from '../kernel/platform';
import { SUBGRAPHS } from '../kernel/services';
import type { DatabaseHandle } from '../kernel/db/database';

/**
 * A revoked session stays revoked: the record is identity's sessions table, which every gateway reads at
 * start and every REVOCATION_POLL_MS (2 s). Announcements (in memory, or Redis) only make it apply sooner.
 */
const POLL_MS = 2_000;

async function login(gatewayUrl: string, account: Account, userAgent = 'jest') {
  const res = await gql(gatewayUrl, LoginDocument, { input: { email: account.email, password: account.password } }, { headers: { 'user-agent': userAgent } });
  if (!res.data) throw new Error(`login failed: ${JSON.stringify(res.errors)}`);
  return res.data.login;
}

/** HTTP status of `me` with this access token (200 accepted, 401 refused as signed out). */
async function meStatus(gatewayUrl: string, token: string): Promise<number> {
  return (await gql(gatewayUrl, MeDocument, {}, { token })).status;
}

/** Asks until the token is refused; the time that took (throws after `ms`). */
async function refusedWithin(gatewayUrl: string, token: string, ms: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    if ((await meStatus(gatewayUrl, token)) === 401) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`still accepted after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('revocations survive a restart of the whole platform without Redis', () => {
  let database: DatabaseHandle;
  let platform: Platform | undefined;
  const config = testConfig();
  const keys = testKeys();
  const start = async () => {
    // The same database (not dropped between the two runs), the same signing keys, a fresh process state.
    platform = await startPlatform({ config, keys, services: [...SUBGRAPHS, 'gateway'], database: { ...database, stop: async () => {} } });
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
    expect((await gql(gateway, LogoutEverywhereDocument, {}, { token: a.accessToken })).data).toEqual({ logoutEverywhere: true });
    Object.assign(refused, { 'logoutEverywhere (caller)': a.accessToken, 'logoutEverywhere (other device)': b.accessToken, 'logoutEverywhere (first session)': everywhere.token });

    const devices = await signUp(gateway, 'Devices');
    const phone = await login(gateway, devices, 'phone');
    const laptop = await login(gateway, devices, 'laptop');
    const list = await gql(gateway, SessionsDocument, {}, { token: laptop.accessToken });
    const phoneSession = list.data!.sessions.find((s) => s.userAgent === 'phone')!;
    expect((await gql(gateway, RevokeSessionDocument, { id: phoneSession.id }, { token: laptop.accessToken })).data).toEqual({ revokeSession: true });
    refused.revokeSession = phone.accessToken;
    kept['the device that revoked'] = laptop.accessToken;

    const forgetful = await signUp(gateway, 'Reset');
    await gql(gateway, RequestPasswordResetDocument, { email: forgetful.email });
    const resetToken = tokenFrom(await waitForMail(config, forgetful.email, SUBJECTS.reset));
    expect((await gql(gateway, ResetPasswordDocument, { input: { token: resetToken, newPassword: 'a brand new pass phrase' } })).data).toEqual({ resetPassword: true });
    refused['password reset'] = forgetful.token;

    const changer = await signUp(gateway, 'Change');
    const stillIn = await login(gateway, changer);
    const changed = await gql(gateway, ChangePasswordDocument, { input: { currentPassword: changer.password, newPassword: 'another new pass phrase' } }, { token: stillIn.accessToken });
    expect(changed.data).toEqual({ changePassword: true });
    refused['password change (other session)'] = changer.token;
    kept['the session that changed the password'] = stillIn.accessToken;

    const registered = await gql(gateway, RegisterDocument, { input: { email: uniqueEmail('reuse'), password: 'correct horse battery', tenantName: 'Reuse' } });
    const stolen = registered.data!.register.refreshToken;
    const rotated = (await gql(gateway, RefreshSessionDocument, { refreshToken: stolen })).data!.refreshSession;
    expect(codes(await gql(gateway, RefreshSessionDocument, { refreshToken: stolen }))).toEqual(['REFRESH_TOKEN_REUSED']);
    refused['refresh-token reuse'] = rotated.accessToken;

    for (const [how, token] of Object.entries(refused)) expect([how, await meStatus(gateway, token)]).toEqual([how, 401]);
    for (const [how, token] of Object.entries(kept)) expect([how, await meStatus(gateway, token)]).toEqual([how, 200]);

    await platform!.stop();
    platform = undefined;
    gateway = await start();

    for (const [how, token] of Object.entries(refused)) expect([how, await meStatus(gateway, token)]).toEqual([how, 401]);
    for (const [how, token] of Object.entries(kept)) expect([how, await meStatus(gateway, token)]).toEqual([how, 200]);
    // A WebSocket with a revoked token is refused too.
    const socket = connect(gateway, { authorization: `Bearer ${refused.revokeSession}` });
    expect((await socket.closed).code).toBe(4401);
    await socket.dispose();
  }, 120_000);
});

/** A TCP hop to the real Redis that the test can cut (connections dropped, new ones refused) and restore. */
class CuttableProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private cut = false;

  constructor(private readonly target: URL) {
    this.server = createServer((client) => {
      if (this.cut) return void client.destroy();
      const upstream = createConnection({ host: target.hostname, port: Number(target.port || 6379) });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const url = new URL(this.target);
    url.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return url.toString();
  }

  sever(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.sever();
    await new Promise((r) => this.server.close(r));
  }
}

const redisUrl = process.env.REDIS_URL;
const withRedis = redisUrl ? describe : describe.skip;

withRedis('revocations while Redis is unreachable', () => {
  const prefix = `nexus-test-${randomUUID().slice(0, 8)}:`;
  let proxy: CuttableProxy;
  let t: TestPlatform;

  beforeAll(async () => {
    proxy = new CuttableProxy(new URL(redisUrl!));
    const viaProxy = await proxy.listen();
    t = await startTestPlatform(undefined, { REDIS_URL: viaProxy, REDIS_PREFIX: prefix, REVOCATION_POLL_MS: String(POLL_MS) });
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
    const phoneSession = (await gql(t.gatewayUrl, SessionsDocument, {}, { token: laptop.accessToken })).data!.sessions.find((s) => s.userAgent === 'phone')!;
    const socket = connect(t.gatewayUrl, { authorization: `Bearer ${phone.accessToken}` });
    socket.subscribe('subscription { unreadCounts { roomId } }');
    expect(await meStatus(t.gatewayUrl, phone.accessToken)).toBe(200);

    proxy.sever();
    const asked = Date.now();
    const revoked = await gql(t.gatewayUrl, RevokeSessionDocument, { id: phoneSession.id }, { token: laptop.accessToken });
    const took = Date.now() - asked;
    expect(revoked.errors).toBeUndefined();
    expect(revoked.data).toEqual({ revokeSession: true });
    expect(took).toBeLessThan(1_500);

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
});
