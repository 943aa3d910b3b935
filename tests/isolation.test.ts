import { Client } from 'pg';
import {
  CreateProductDocument,
  CurrentTenantDocument,
  MessageByIdDocument,
  MessagesDocument,
  ProductByIdDocument,
  RoomsDocument,
} from './generated/graphql';
import { CONTEXT_HEADER, signContextToken } from '../kernel/context-token';
import { codes, rawGql } from './support/gql';
import type { User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
let a: User;
let b: User;
let aRoom: { roomId: string; messageId: string };
let aProductId: string;

beforeAll(async () => {
  t = await startTestPlatform();
  a = await t.signUp('Tenant A');
  b = await t.signUp('Tenant B');
  aRoom = await a.createRoomWithMessage('secret of A');
  const product = await a.gql(CreateProductDocument, { input: { name: 'A only', priceCents: 1, currency: 'USD' } });
  aProductId = product.data!.createProduct.id;
});
afterAll(async () => {
  await t?.stop();
});

describe('tenant isolation through the gateway', () => {
  it("does not return tenant A's message to tenant B by id", async () => {
    const res = await b.gql(MessageByIdDocument, { id: aRoom.messageId });
    expect(res.errors).toBeUndefined();
    expect(res.data!.message).toBeNull();
  });

  it("does not list tenant A's room history or rooms for tenant B", async () => {
    const history = await b.gql(MessagesDocument, { roomId: aRoom.roomId });
    expect(codes(history)).toEqual(['ROOM_NOT_FOUND']);
    const rooms = await b.gql(RoomsDocument, {});
    expect(rooms.data!.rooms.map((r) => r.id)).not.toContain(aRoom.roomId);
    expect(rooms.data!.rooms).toHaveLength(1); // B's own `general` room
  });

  it("cannot post into tenant A's room, and nothing is written", async () => {
    const res = await b.sendMessage(aRoom.roomId, 'intrusion');
    expect(codes(res)).toEqual(['ROOM_NOT_FOUND']);
    const history = await a.gql(MessagesDocument, { roomId: aRoom.roomId });
    expect(history.data!.messages.edges.map((e) => e.node.body)).toEqual(['secret of A']);
  });

  it("does not return tenant A's product to tenant B", async () => {
    const res = await b.gql(ProductByIdDocument, { id: aProductId });
    expect(res.data!.product).toBeNull();
  });

  it('refuses a tenant header naming a tenant the token is not for', async () => {
    const res = await b.gql(CurrentTenantDocument, {}, { headers: { 'x-tenant-id': a.tenantId } });
    expect(res.status).toBe(403);
    expect(codes(res)).toEqual(['FORBIDDEN']);
    const same = await b.gql(CurrentTenantDocument, {}, { headers: { 'x-tenant-id': b.tenantId } });
    expect(same.data!.currentTenant.name).toBe('Tenant B');
  });

  it('refuses a tenant header without a token', async () => {
    const res = await t.anonymous().gql(CurrentTenantDocument, {}, { headers: { 'x-tenant-id': a.tenantId } });
    expect(res.status).toBe(401);
  });
});

describe('entity lookups between subgraphs', () => {
  it("resolves tenant A's entities by key only for tenant A, even when the gateway asks", async () => {
    const entities = async (tenantId: string, userId: string) => {
      const ctx = {
        requestId: 'x',
        tenantId,
        userId,
        sessionId: null,
        roles: ['owner'],
        permissions: ['*'],
        authMethod: 'password' as const,
      };
      const token = await signContextToken(ctx, 'messaging', t.keys.context.privateKey!);
      const res = await rawGql<{ _entities: ({ id: string; body: string } | null)[] }>(
        t.subgraphUrl('messaging'),
        {
          query:
            'query($r: [_Any!]!) { _entities(representations: $r) { ... on Message { id body } ... on Room { id name } } }',
          variables: {
            r: [
              { __typename: 'Message', id: aRoom.messageId },
              { __typename: 'Room', id: aRoom.roomId },
            ],
          },
        },
        { headers: { [CONTEXT_HEADER]: token } },
      );
      return res.data!._entities;
    };
    expect(await entities(b.tenantId, b.userId)).toEqual([null, null]);
    expect(await entities(a.tenantId, a.userId)).toEqual([
      { id: aRoom.messageId, body: 'secret of A' },
      { id: aRoom.roomId, name: 'general' },
    ]);
  });
});

describe('row-level security in the database', () => {
  async function asApp<T>(tenantId: string | null, work: (c: Client) => Promise<T>): Promise<T> {
    const c = new Client({ connectionString: t.databaseUrl });
    await c.connect();
    try {
      await c.query('BEGIN');
      await c.query('SET LOCAL ROLE nexus_app');
      if (tenantId) await c.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
      return await work(c);
    } finally {
      await c.query('ROLLBACK').catch(() => undefined);
      await c.end();
    }
  }

  it("shows the runtime role only the current tenant's rows, even without a WHERE clause", async () => {
    const rows = await asApp(b.tenantId, async (c) => (await c.query('SELECT tenant_id FROM messaging.messages')).rows);
    expect(rows.every((r) => r.tenant_id === b.tenantId)).toBe(true);
    const aRows = await asApp(a.tenantId, async (c) => (await c.query('SELECT body FROM messaging.messages')).rows);
    expect(aRows.map((r) => r.body)).toContain('secret of A');
  });

  it('shows nothing when no tenant is set (fail closed)', async () => {
    for (const table of [
      'messaging.messages',
      'messaging.rooms',
      'commerce.products',
      'tenancy.tenants',
      'identity.sessions',
    ]) {
      const count = await asApp(
        null,
        async (c) => (await c.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n,
      );
      expect({ table, count }).toEqual({ table, count: 0 });
    }
  });

  it('refuses to write a row for another tenant', async () => {
    await expect(
      asApp(b.tenantId, (c) =>
        c.query(
          `INSERT INTO messaging.rooms (tenant_id, id, name, created_by) VALUES ($1, gen_random_uuid(), 'x', gen_random_uuid())`,
          [a.tenantId],
        ),
      ),
    ).rejects.toThrow(/row-level security/);
  });

  it('cannot move a row into another tenant', async () => {
    const outcome = await asApp(b.tenantId, async (c) => {
      await c.query(
        `INSERT INTO messaging.rooms (tenant_id, id, name, created_by) VALUES ($1, gen_random_uuid(), 'b', gen_random_uuid())`,
        [b.tenantId],
      );
      return c.query(`UPDATE messaging.rooms SET tenant_id = $1`, [a.tenantId]).then(
        () => 'moved',
        (e: Error) => e.message,
      );
    });
    expect(outcome).toMatch(/row-level security/);
  });
});
