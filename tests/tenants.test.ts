import { MemoryPubSub } from '../kernel/pubsub';
import {
  AuditDetailsDocument,
  CreateTenantDocument,
  MyTenantsDocument,
  ReactivateTenantDocument,
  RoomsDocument,
  SuspendTenantDocument,
  SwitchTenantDocument,
  TenantStatusDocument,
  UpdateTenantDocument,
  TenantSettingsDocument,
  UpdateTenantSettingsDocument,
} from './generated/graphql';
import type { User } from './support/client';
import { codes } from './support/gql';
import { uniqueEmail } from './support/fixtures';
import { startExtraGateway, startTestPlatform, type TestPlatform } from './support/platform';
import { connect, sleep, type WsSession } from './support/ws';

const ROOT = uniqueEmail('operator');
let t: TestPlatform;
let root: User;
const sockets: WsSession[] = [];

beforeAll(async () => {
  t = await startTestPlatform(undefined, { SUPER_ADMIN_EMAILS: ROOT });
  root = await t.signUp('Platform operators', ROOT);
  // A Super Admin by configuration holds the address confirmed.
  await root.confirmEmail();
  await root.turnOnTotp();
});
afterEach(async () => {
  for (const s of sockets.splice(0)) await s.dispose().catch(() => undefined);
});
afterAll(async () => {
  await t?.stop();
});

describe('creating, listing and switching tenants', () => {
  let alice: User;
  let second: { id: string; slug: string };

  beforeAll(async () => {
    alice = await t.signUp('Alice First');
  });

  it('creates a tenant the caller owns, listed with the others', async () => {
    const created = await alice.gql(CreateTenantDocument, { input: { name: 'Alice Second Co' } });
    expect(created.errors).toBeUndefined();
    second = created.data!.createTenant;
    expect(second).toMatchObject({ name: 'Alice Second Co', slug: 'alice-second-co', status: 'ACTIVE' });
    const mine = await alice.gql(MyTenantsDocument, {});
    expect(mine.data!.myTenants.map((m) => [m.tenant.id, m.role, m.current])).toEqual([
      [alice.tenantId, 'owner', true],
      [second.id, 'owner', false],
    ]);
  });

  it('switches to a tenant the account belongs to; the first session keeps working', async () => {
    const switched = await alice.gql(SwitchTenantDocument, { tenantId: second.id });
    expect(switched.data!.switchTenant.tenant).toEqual({ id: second.id, name: 'Alice Second Co' });
    const token = switched.data!.switchTenant.accessToken;
    expect((await t.as(token).gql(TenantStatusDocument, {})).data!.currentTenant.id).toBe(second.id);
    // Messaging gave the new tenant its general room, like a tenant made at registration.
    expect((await t.as(token).gql(RoomsDocument, {})).data!.rooms.map((r) => r.name)).toEqual(['general']);
    expect((await alice.gql(TenantStatusDocument, {})).data!.currentTenant.id).toBe(alice.tenantId);
    const log = await t.as(token).gql(AuditDetailsDocument, { filter: { action: 'tenant_create' } });
    expect(log.data!.auditLog.edges[0].node).toMatchObject({
      actorId: alice.userId,
      details: { name: 'Alice Second Co', slug: 'alice-second-co' },
    });
  });

  it('refuses switching into a tenant one does not belong to, and audits it', async () => {
    const bob = await t.signUp('Bob Elsewhere');
    expect(codes(await alice.gql(SwitchTenantDocument, { tenantId: bob.tenantId }))).toEqual(['NOT_A_MEMBER']);
    expect(codes(await alice.gql(SwitchTenantDocument, { tenantId: 'not-an-id' }))).toEqual(['NOT_A_MEMBER']);
    const log = await alice.gql(AuditDetailsDocument, { filter: { action: 'tenant_switch', result: 'FAILURE' } });
    expect(log.data!.auditLog.edges.length).toBe(2);
  });

  it('refuses duplicate and malformed slugs and names, changing nothing', async () => {
    const taken = await alice.gql(CreateTenantDocument, { input: { name: 'Copy', slug: 'alice-second-co' } });
    expect(codes(taken)).toEqual(['SLUG_TAKEN']);
    for (const slug of ['Bad Slug', '-dash', 'a'.repeat(65)]) {
      expect(codes(await alice.gql(CreateTenantDocument, { input: { name: 'X', slug } }))).toEqual(['INVALID_TENANT']);
    }
    expect(codes(await alice.gql(CreateTenantDocument, { input: { name: ' ' } }))).toEqual(['INVALID_TENANT']);
    expect(codes(await alice.gql(UpdateTenantDocument, { input: { slug: 'alice-second-co' } }))).toEqual([
      'SLUG_TAKEN',
    ]);
    const renamed = await alice.gql(UpdateTenantDocument, { input: { name: 'Alice Renamed', slug: 'alice-renamed' } });
    expect(renamed.data!.updateTenant).toEqual({ id: alice.tenantId, name: 'Alice Renamed', slug: 'alice-renamed' });
    expect((await alice.gql(MyTenantsDocument, {})).data!.myTenants).toHaveLength(2);
  });
});

describe('suspension by platform operators', () => {
  it('is reserved to Super Admins', async () => {
    const owner = await t.signUp('Not An Operator');
    expect(codes(await owner.gql(SuspendTenantDocument, { id: owner.tenantId, reason: 'x' }))).toEqual(['FORBIDDEN']);
  });

  it('refuses the tenant at every gateway except status operations, closes its subscriptions, and lifts on reactivation', async () => {
    const bob = await t.signUp('Bob Suspended');
    const { roomId } = await bob.createRoomWithMessage('before');
    const socket = connect(t.gatewayUrl, { authorization: `Bearer ${bob.token}` });
    sockets.push(socket);
    socket.subscribe(`subscription($roomId: ID!) { messageAdded(roomId: $roomId) { id } }`, { roomId });
    await sleep(300);

    const suspended = await root.gql(SuspendTenantDocument, { id: bob.tenantId, reason: 'Unpaid invoices' });
    expect(suspended.data!.suspendTenant).toEqual({
      id: bob.tenantId,
      status: 'SUSPENDED',
      statusReason: 'Unpaid invoices',
    });
    expect((await socket.closed).code).toBe(4403);

    const refused = await bob.gql(RoomsDocument, {});
    expect(refused.status).toBe(403);
    expect(codes(refused)).toEqual(['TENANT_SUSPENDED']);
    const status = await bob.gql(TenantStatusDocument, {});
    expect(status.data!.currentTenant).toMatchObject({ status: 'SUSPENDED', statusReason: 'Unpaid invoices' });
    expect((await bob.gql(MyTenantsDocument, {})).errors).toBeUndefined();

    // A gateway that never heard the announcement asks tenancy, and refuses too.
    const late = await startExtraGateway(t, { pubsub: new MemoryPubSub() });
    try {
      expect(codes(await bob.via(late.url).gql(RoomsDocument, {}))).toEqual(['TENANT_SUSPENDED']);
    } finally {
      await late.stop();
    }
    expect(codes(await root.gql(SuspendTenantDocument, { id: bob.tenantId, reason: 'again' }))).toEqual([
      'INVALID_STATUS_CHANGE',
    ]);

    expect((await root.gql(ReactivateTenantDocument, { id: bob.tenantId })).data!.reactivateTenant.status).toBe(
      'ACTIVE',
    );
    expect((await bob.gql(RoomsDocument, {})).errors).toBeUndefined();

    const log = await bob.gql(AuditDetailsDocument, { filter: { actorId: root.userId } });
    expect(log.data!.auditLog.edges.map((e) => [e.node.action, e.node.details])).toEqual([
      ['tenant_reactivate', { status: 'active', reason: null }],
      ['tenant_suspend', { status: 'suspended', reason: 'Unpaid invoices' }],
    ]);
    const own = await root.gql(AuditDetailsDocument, { filter: { action: 'tenant_suspend' } });
    expect(own.data!.auditLog.edges).toHaveLength(1);
  });

  it('refuses unknown tenants and over-long reasons', async () => {
    expect(
      codes(await root.gql(SuspendTenantDocument, { id: '00000000-0000-4000-8000-000000000000', reason: 'x' })),
    ).toEqual(['TENANT_NOT_FOUND']);
    expect(codes(await root.gql(SuspendTenantDocument, { id: root.tenantId, reason: 'x'.repeat(501) }))).toEqual([
      'INVALID_TENANT',
    ]);
  });
});

describe('tenant settings', () => {
  it('keeps a data residency label and a read-receipt policy, checked and audited', async () => {
    const owner = await t.signUp('Settings Co');
    const read = () => owner.gql(TenantSettingsDocument, {}).then((r) => r.data!.currentTenant.settings);
    expect(await read()).toEqual({ dataResidency: null, readReceipts: 'PUBLIC' });
    const set = await owner.gql(UpdateTenantSettingsDocument, {
      input: { dataResidency: 'EU-West', readReceipts: 'PRIVATE' },
    });
    expect(set.data!.updateTenantSettings).toEqual({ dataResidency: 'eu-west', readReceipts: 'PRIVATE' });
    expect(await read()).toEqual({ dataResidency: 'eu-west', readReceipts: 'PRIVATE' });
    expect(codes(await owner.gql(UpdateTenantSettingsDocument, { input: { dataResidency: 'x' } }))).toEqual([
      'INVALID_TENANT',
    ]);
    const member = await owner.invite();
    expect(codes(await member.gql(UpdateTenantSettingsDocument, { input: { readReceipts: 'PUBLIC' } }))).toEqual([
      'FORBIDDEN',
    ]);
    expect(
      (await owner.gql(UpdateTenantSettingsDocument, { input: { dataResidency: null } })).data!.updateTenantSettings,
    ).toEqual({
      dataResidency: null,
      readReceipts: 'PRIVATE',
    });
    const log = await owner.gql(AuditDetailsDocument, { filter: { action: 'tenant_settings_update' } });
    expect(log.data!.auditLog.edges.map((e) => e.node.details)).toEqual([
      { dataResidency: null, readReceipts: 'private' },
      { dataResidency: 'eu-west', readReceipts: 'private' },
    ]);
  });
});
