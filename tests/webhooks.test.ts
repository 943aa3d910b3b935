import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { Client } from 'pg';
import {
  CreateRoomWebhookDocument,
  CreateTypedRoomDocument,
  MessagesDocument,
  RoomWebhooksDocument,
} from './generated/graphql';
import { codes } from './support/gql';
import type { User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { connect, sleep, type WsSession } from './support/ws';

let t: TestPlatform;
let owner: User;
let other: User;
let roomId: string;
let hook: { url: string; secret: string; id: string };
const sessions: WsSession[] = [];

beforeAll(async () => {
  t = await startTestPlatform();
  owner = await t.signUp('Automation Co');
  other = await t.signUp('Elsewhere Co');
  roomId = (await owner.gql(CreateTypedRoomDocument, { input: { name: 'alerts', type: 'GENERAL' } })).data!.createRoom
    .id;
  const created = (await owner.gql(CreateRoomWebhookDocument, { roomId, name: 'n8n alerts' })).data!.createRoomWebhook;
  hook = {
    url: new URL(created.webhook.path, t.gatewayUrl).toString(),
    secret: created.secret,
    id: created.webhook.id,
  };
}, 60_000);
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.dispose()));
  await t?.stop();
});

const sign = (secret: string, timestamp: string, body: string) =>
  `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
const now = () => String(Math.floor(Date.now() / 1000));

async function post(body: string, headers: Record<string, string>, url = hook.url) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, json: (await res.json()) as { messageId?: string; error?: { code: string } } };
}

async function signed(body: string, timestamp = now(), secret = hook.secret) {
  return post(body, { 'nexus-timestamp': timestamp, 'nexus-signature': sign(secret, timestamp, body) });
}

const bodies = () =>
  owner.gql(MessagesDocument, { roomId, first: 50 }).then((r) => r.data!.messages.edges.map((e) => e.node.body));

describe('inbound webhooks', () => {
  it('posts a signed call as a system message, delivered live', async () => {
    const s = connect(t.gatewayUrl, { authorization: `Bearer ${owner.token}` });
    sessions.push(s);
    const sub = s.subscribe<{
      roomEvents: { kind: string; message: { body: string; system: boolean; senderName: string; author: unknown } };
    }>(`subscription($r: ID!) { roomEvents(roomId: $r) { kind message { body system senderName author { id } } } }`, {
      r: roomId,
    });
    await sleep(300);
    const res = await signed(JSON.stringify({ text: 'Deploy finished \u0007' }));
    expect(res.status).toBe(201);
    expect(res.json.messageId).toBeDefined();
    const [event] = (await sub.waitFor(1)).map((r) => r.data!.roomEvents);
    expect(event).toEqual({
      kind: 'MESSAGE_ADDED',
      message: { body: 'Deploy finished', system: true, senderName: 'n8n alerts', author: null },
    });
  });

  it('refuses bad signatures, stale timestamps, replays and bad bodies, storing nothing', async () => {
    const before = await bodies();
    const body = JSON.stringify({ text: 'should never appear' });
    const ts = now();
    const cases: [string, Promise<{ status: number; json: { error?: { code: string } } }>, number, string][] = [
      ['no signature', post(body, {}), 401, 'INVALID_SIGNATURE'],
      [
        'malformed signature',
        post(body, { 'nexus-timestamp': ts, 'nexus-signature': 'sha256=abc' }),
        401,
        'INVALID_SIGNATURE',
      ],
      ['wrong secret', signed(body, ts, 'whsec_not-the-secret'), 401, 'INVALID_SIGNATURE'],
      [
        'body changed after signing',
        post(body.replace('never', 'ever'), { 'nexus-timestamp': ts, 'nexus-signature': sign(hook.secret, ts, body) }),
        401,
        'INVALID_SIGNATURE',
      ],
      [
        'timestamp changed after signing',
        post(body, { 'nexus-timestamp': String(Number(ts) + 1), 'nexus-signature': sign(hook.secret, ts, body) }),
        401,
        'INVALID_SIGNATURE',
      ],
      ['stale timestamp', signed(body, String(Number(ts) - 301)), 401, 'STALE_TIMESTAMP'],
      ['future timestamp', signed(body, String(Number(ts) + 400)), 401, 'STALE_TIMESTAMP'],
      ['empty text', signed(JSON.stringify({ text: '  ' })), 400, 'INVALID_MESSAGE'],
      ['not JSON', signed('text=hello'), 400, 'INVALID_MESSAGE'],
      [
        'unknown webhook',
        post(
          body,
          { 'nexus-timestamp': ts, 'nexus-signature': sign(hook.secret, ts, body) },
          hook.url.replace(hook.id, '00000000-0000-4000-8000-000000000000'),
        ),
        404,
        'WEBHOOK_NOT_FOUND',
      ],
    ];
    for (const [name, pending, status, code] of cases) {
      const res = await pending;
      expect({ name, status: res.status, code: res.json.error?.code }).toEqual({ name, status, code });
    }
    expect(await bodies()).toEqual(before);
  });

  it('accepts each signed call once', async () => {
    const body = JSON.stringify({ text: 'exactly once' });
    const ts = now();
    const headers = { 'nexus-timestamp': ts, 'nexus-signature': sign(hook.secret, ts, body) };
    expect((await post(body, headers)).status).toBe(201);
    const replay = await post(body, headers);
    expect([replay.status, replay.json.error?.code]).toEqual([409, 'REPLAYED']);
    expect((await bodies()).filter((b) => b === 'exactly once')).toHaveLength(1);
  });

  it('never lets a hook path reach a subgraph outside its hooks', async () => {
    const { port } = new URL(t.gatewayUrl);
    const body = JSON.stringify({ query: '{ superAdmins { email } }' });
    // Sent as written (a URL parser would fold the dot segments before they left the client).
    const raw = (path: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json' } },
          (res) => {
            let text = '';
            res.on('data', (d) => (text += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    for (const path of [
      '/hooks/identity/%2E%2E/graphql',
      '/hooks/identity/%2e%2e/internal/effective-permissions',
      '/sso/%2E%2E/%2E%2E/graphql',
      '/hooks/messaging/.%2E/graphql',
      '/hooks/identity/../graphql',
    ]) {
      const res = await raw(path);
      expect({ path, status: res.status, leaked: res.text.includes('"data"') }).toEqual({
        path,
        status: 404,
        leaked: false,
      });
    }
  });

  it('keeps secrets sealed at rest and webhooks to their tenant', async () => {
    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    const { rows } = await db.query(`SELECT secret_sealed FROM messaging.webhooks WHERE id = $1`, [hook.id]);
    await db.end();
    expect(rows[0].secret_sealed).not.toContain(hook.secret);
    expect(rows[0].secret_sealed.startsWith('v1.')).toBe(true);
    // Another tenant's path with this webhook's id finds nothing.
    const ts = now();
    const body = JSON.stringify({ text: 'cross-tenant' });
    const res = await post(
      body,
      { 'nexus-timestamp': ts, 'nexus-signature': sign(hook.secret, ts, body) },
      hook.url.replace(owner.tenantId, other.tenantId),
    );
    expect([res.status, res.json.error?.code]).toEqual([404, 'WEBHOOK_NOT_FOUND']);
    expect(codes(await other.gql(RoomWebhooksDocument, { roomId }))).toEqual(['ROOM_NOT_FOUND']);
    const member = await owner.invite();
    expect(codes(await member.gql(CreateRoomWebhookDocument, { roomId, name: 'mine' }))).toEqual(['FORBIDDEN']);
    expect((await owner.gql(RoomWebhooksDocument, { roomId })).data!.roomWebhooks).toEqual([
      { id: hook.id, name: 'n8n alerts' },
    ]);
  });
});
