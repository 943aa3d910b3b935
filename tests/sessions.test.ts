import {
  AuditLogDocument,
  LoginDocument,
  LogoutDocument,
  LogoutEverywhereDocument,
  MeDocument,
  RefreshSessionDocument,
  RegisterDocument,
  RevokeSessionDocument,
  SessionsDocument,
} from './generated/graphql';
import { codes } from './support/gql';
import { startExtraGateway, startTestPlatform, type TestPlatform } from './support/platform';
import { connect, sleep } from './support/ws';

let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(async () => {
  await t?.stop();
});

describe('sessions and refresh tokens', () => {
  it('rotates the refresh token on every use and keeps the session', async () => {
    const first = await t.anonymous().gql(RegisterDocument, {
      input: { email: `r-${Date.now()}@example.test`, password: 'rotating password', tenantName: 'Rot' },
    });
    const r1 = first.data!.register.refreshToken;
    const refreshed = await t.anonymous().gql(RefreshSessionDocument, { refreshToken: r1 });
    expect(refreshed.errors).toBeUndefined();
    expect(refreshed.data!.refreshSession.refreshToken).not.toBe(r1);
    expect(refreshed.data!.refreshSession.tenant.name).toBe('Rot');
    const me = await t.as(refreshed.data!.refreshSession.accessToken).gql(MeDocument, {});
    expect(me.data!.me.id).toBe(first.data!.register.user.id);
  });

  it('revokes the whole session when a used refresh token comes back (theft), at once for open connections too', async () => {
    const reg = await t.anonymous().gql(RegisterDocument, {
      input: { email: `theft-${Date.now()}@example.test`, password: 'stolen password', tenantName: 'Theft' },
    });
    const stolen = reg.data!.register.refreshToken;
    const legit = await t.anonymous().gql(RefreshSessionDocument, { refreshToken: stolen });
    const { accessToken, refreshToken: current } = legit.data!.refreshSession;
    const socket = connect(t.gatewayUrl, { authorization: `Bearer ${accessToken}` });
    socket.subscribe('subscription($r: ID!) { messageAdded(roomId: $r) { id } }', {
      r: '00000000-0000-0000-0000-000000000000',
    });
    await sleep(200);
    const replay = await t.anonymous().gql(RefreshSessionDocument, { refreshToken: stolen });
    expect(codes(replay)).toEqual(['REFRESH_TOKEN_REUSED']);
    // Every token of that session is dead: the newest refresh token, the access token, the socket.
    expect(codes(await t.anonymous().gql(RefreshSessionDocument, { refreshToken: current }))).toEqual([
      'INVALID_REFRESH_TOKEN',
    ]);
    expect((await t.as(accessToken).gql(MeDocument, {})).status).toBe(401);
    expect((await socket.closed).code).toBe(4401);
    await socket.dispose();
  });

  it('refuses unknown refresh tokens', async () => {
    const res = await t.anonymous().gql(RefreshSessionDocument, { refreshToken: 'nxr_not-a-real-token' });
    expect(codes(res)).toEqual(['INVALID_REFRESH_TOKEN']);
  });

  it('lists the devices and revokes one of them; another account cannot revoke it', async () => {
    const account = await t.signUp('Devices');
    const phone = await t.login(account, 'phone');
    const laptop = await t.login(account, 'laptop');
    const list = await t.as(laptop.accessToken).gql(SessionsDocument, {});
    const mine = list.data!.sessions;
    expect(mine.filter((s) => s.current)).toHaveLength(1);
    expect(mine.map((s) => s.userAgent)).toEqual(expect.arrayContaining(['phone', 'laptop']));
    const phoneSession = mine.find((s) => s.userAgent === 'phone')!;
    const stranger = await t.signUp('Stranger');
    const denied = await stranger.gql(RevokeSessionDocument, { id: phoneSession.id });
    expect(codes(denied)).toEqual(['SESSION_NOT_FOUND']);
    expect((await t.as(phone.accessToken).gql(MeDocument, {})).data!.me.id).toBe(account.userId);
    const revoked = await t.as(laptop.accessToken).gql(RevokeSessionDocument, { id: phoneSession.id });
    expect(revoked.data!.revokeSession).toBe(true);
    expect((await t.as(phone.accessToken).gql(MeDocument, {})).status).toBe(401);
    expect((await t.as(laptop.accessToken).gql(MeDocument, {})).data!.me.id).toBe(account.userId);
  });

  it('signs out everywhere', async () => {
    const account = await t.signUp('Everywhere');
    const a = await t.login(account);
    const b = await t.login(account);
    const out = await t.as(a.accessToken).gql(LogoutEverywhereDocument, {});
    expect(out.data!.logoutEverywhere).toBe(true);
    for (const token of [a.accessToken, b.accessToken, account.token]) {
      expect((await t.as(token).gql(MeDocument, {})).status).toBe(401);
    }
    expect(codes(await t.anonymous().gql(RefreshSessionDocument, { refreshToken: b.refreshToken }))).toEqual([
      'INVALID_REFRESH_TOKEN',
    ]);
  });
});

describe('security audit log', () => {
  it('records sign-ins, failures, refreshes and revocations with ip and user agent, filterable and paged', async () => {
    const account = await t.signUp('Audited');
    // Failed sign-ins land in the log of an account that has confirmed its address.
    await account.confirmEmail();
    await t
      .anonymous()
      .gql(
        LoginDocument,
        { input: { email: account.email, password: 'wrong password!' } },
        { headers: { 'user-agent': 'attacker' } },
      );
    const ok = await t.login(account, 'browser');
    await t.anonymous().gql(RefreshSessionDocument, { refreshToken: ok.refreshToken });
    const all = await t.as(ok.accessToken).gql(AuditLogDocument, { first: 50 });
    const actions = all.data!.auditLog.edges.map((e) => e.node.action);
    expect(actions).toEqual(['refresh', 'login', 'login_failed', 'register']);
    const failed = all.data!.auditLog.edges.find((e) => e.node.action === 'login_failed')!.node;
    expect(failed).toMatchObject({
      result: 'FAILURE',
      actorId: null,
      target: `user:${account.userId}`,
      userAgent: 'attacker',
    });
    expect(failed.ip).toBeTruthy();
    const failures = await t.as(ok.accessToken).gql(AuditLogDocument, { filter: { result: 'FAILURE' } });
    expect(failures.data!.auditLog.edges.map((e) => e.node.action)).toEqual(['login_failed']);
    const page1 = await t.as(ok.accessToken).gql(AuditLogDocument, { first: 2 });
    expect(page1.data!.auditLog.hasNextPage).toBe(true);
    const page2 = await t.as(ok.accessToken).gql(AuditLogDocument, { first: 2, after: page1.data!.auditLog.endCursor });
    expect(page2.data!.auditLog.edges.map((e) => e.node.action)).toEqual(['login_failed', 'register']);
  });

  it("never shows another tenant's events", async () => {
    const a = await t.signUp('Audit A');
    const b = await t.signUp('Audit B');
    const seen = await b.gql(AuditLogDocument, { first: 100 });
    expect(seen.data!.auditLog.edges.map((e) => e.node.target)).not.toContain(`user:${a.userId}`);
    expect(seen.data!.auditLog.edges.every((e) => e.node.actorId === b.userId || e.node.actorId === null)).toBe(true);
  });
});

describe('a gateway that starts after a sign-out', () => {
  it('still refuses the signed-out session', async () => {
    const account = await t.signUp('Late gateway');
    await account.gql(LogoutDocument, {});
    const late = await startExtraGateway(t);
    try {
      expect((await account.via(late.url).gql(MeDocument, {})).status).toBe(401);
    } finally {
      await late.stop();
    }
  });
});
