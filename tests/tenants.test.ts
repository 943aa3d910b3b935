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
import { codes, gql } from './support/gql';
import {
  confirmEmail,
  createRoomWithMessage,
  joinByInvitation,
  signUp,
  turnOnTotp,
  uniqueEmail,
  type Account,
} from './support/fixtures';
import { startExtraGateway, startTestPlatform, type TestPlatform } from './support/platform';
import { connect, sleep, type WsSession } from './support/ws';

const ROOT = uniqueEmail('operator');
let t: TestPlatform;
let root: Account;
const sockets: WsSession[] = [];

beforeAll(async () => {
  t = await startTestPlatform(undefined, { SUPER_ADMIN_EMAILS: ROOT });
  root = await signUp(t.gatewayUrl, 'Platform operators', ROOT);
  // A Super Admin by configuration holds the address confirmed.
  await confirmEmail(t.gatewayUrl, t.config, ROOT);
  await turnOnTotp(t.gatewayUrl, root.token);
});
afterEach(async () => {
  for (const s of sockets.splice(0)) await s.dispose().catch(() => undefined);
});
afterAll(async () => {
  await t?.stop();
});

describe('creating, listing and switching tenants', () => {
  let alice: Account;
  let second: { id: string; slug: string };

  beforeAll(async () => {
    alice = await signUp(t.gatewayUrl, 'Alice First');
  });

  it('creates a tenant the caller owns, listed with the others', async () => {
    const created = await gql(
      t.gatewayUrl,
      CreateTenantDocument,
      { input: { name: 'Alice Second Co' } },
      { token: alice.token },
    );
    expect(created.errors).toBeUndefined();
    second = created.data!.createTenant;
    expect(second).toMatchObject({ name: 'Alice Second Co', slug: 'alice-second-co', status: 'ACTIVE' });
    const mine = await gql(t.gatewayUrl, MyTenantsDocument, {}, { token: alice.token });
    expect(mine.data!.myTenants.map((m) => [m.tenant.id, m.role, m.current])).toEqual([
      [alice.tenantId, 'owner', true],
      [second.id, 'owner', false],
    ]);
  });

  it('switches to a tenant the account belongs to; the first session keeps working', async () => {
    const switched = await gql(t.gatewayUrl, SwitchTenantDocument, { tenantId: second.id }, { token: alice.token });
    expect(switched.data!.switchTenant.tenant).toEqual({ id: second.id, name: 'Alice Second Co' });
    const token = switched.data!.switchTenant.accessToken;
    expect((await gql(t.gatewayUrl, TenantStatusDocument, {}, { token })).data!.currentTenant.id).toBe(second.id);
    // Messaging gave the new tenant its general room, like a tenant made at registration.
    expect((await gql(t.gatewayUrl, RoomsDocument, {}, { token })).data!.rooms.map((r) => r.name)).toEqual(['general']);
    expect((await gql(t.gatewayUrl, TenantStatusDocument, {}, { token: alice.token })).data!.currentTenant.id).toBe(
      alice.tenantId,
    );
    const log = await gql(t.gatewayUrl, AuditDetailsDocument, { filter: { action: 'tenant_create' } }, { token });
    expect(log.data!.auditLog.edges[0].node).toMatchObject({
      actorId: alice.userId,
      details: { name: 'Alice Second Co', slug: 'alice-second-co' },
    });
  });

  it('refuses switching into a tenant one does not belong to, and audits it', async () => {
    const bob = await signUp(t.gatewayUrl, 'Bob Elsewhere');
    expect(
      codes(await gql(t.gatewayUrl, SwitchTenantDocument, { tenantId: bob.tenantId }, { token: alice.token })),
    ).toEqual(['NOT_A_MEMBER']);
    expect(
      codes(await gql(t.gatewayUrl, SwitchTenantDocument, { tenantId: 'not-an-id' }, { token: alice.token })),
    ).toEqual(['NOT_A_MEMBER']);
    const log = await gql(
      t.gatewayUrl,
      AuditDetailsDocument,
      { filter: { action: 'tenant_switch', result: 'FAILURE' } },
      { token: alice.token },
    );
    expect(log.data!.auditLog.edges.length).toBe(2);
  });

  it('refuses duplicate and malformed slugs and names, changing nothing', async () => {
    const taken = await gql(
      t.gatewayUrl,
      CreateTenantDocument,
      { input: { name: 'Copy', slug: 'alice-second-co' } },
      { token: alice.token },
    );
    expect(codes(taken)).toEqual(['SLUG_TAKEN']);
    for (const slug of ['Bad Slug', '-dash', 'a'.repeat(65)]) {
      expect(
        codes(await gql(t.gatewayUrl, CreateTenantDocument, { input: { name: 'X', slug } }, { token: alice.token })),
      ).toEqual(['INVALID_TENANT']);
    }
    expect(
      codes(await gql(t.gatewayUrl, CreateTenantDocument, { input: { name: ' ' } }, { token: alice.token })),
    ).toEqual(['INVALID_TENANT']);
    expect(
      codes(
        await gql(t.gatewayUrl, UpdateTenantDocument, { input: { slug: 'alice-second-co' } }, { token: alice.token }),
      ),
    ).toEqual(['SLUG_TAKEN']);
    const renamed = await gql(
      t.gatewayUrl,
      UpdateTenantDocument,
      { input: { name: 'Alice Renamed', slug: 'alice-renamed' } },
      { token: alice.token },
    );
    expect(renamed.data!.updateTenant).toEqual({ id: alice.tenantId, name: 'Alice Renamed', slug: 'alice-renamed' });
    expect((await gql(t.gatewayUrl, MyTenantsDocument, {}, { token: alice.token })).data!.myTenants).toHaveLength(2);
  });
});

describe('suspension by platform operators', () => {
  it('is reserved to Super Admins', async () => {
    const owner = await signUp(t.gatewayUrl, 'Not An Operator');
    expect(
      codes(
        await gql(t.gatewayUrl, SuspendTenantDocument, { id: owner.tenantId, reason: 'x' }, { token: owner.token }),
      ),
    ).toEqual(['FORBIDDEN']);
  });

  it('refuses the tenant at every gateway except status operations, closes its subscriptions, and lifts on reactivation', async () => {
    const bob = await signUp(t.gatewayUrl, 'Bob Suspended');
    const { roomId } = await createRoomWithMessage(t.gatewayUrl, bob, 'before');
    const socket = connect(t.gatewayUrl, { authorization: `Bearer ${bob.token}` });
    sockets.push(socket);
    socket.subscribe(`subscription($roomId: ID!) { messageAdded(roomId: $roomId) { id } }`, { roomId });
    await sleep(300);

    const suspended = await gql(
      t.gatewayUrl,
      SuspendTenantDocument,
      { id: bob.tenantId, reason: 'Unpaid invoices' },
      { token: root.token },
    );
    expect(suspended.data!.suspendTenant).toEqual({
      id: bob.tenantId,
      status: 'SUSPENDED',
      statusReason: 'Unpaid invoices',
    });
    expect((await socket.closed).code).toBe(4403);

    const refused = await gql(t.gatewayUrl, RoomsDocument, {}, { token: bob.token });
    expect(refused.status).toBe(403);
    expect(codes(refused)).toEqual(['TENANT_SUSPENDED']);
    const status = await gql(t.gatewayUrl, TenantStatusDocument, {}, { token: bob.token });
    expect(status.data!.currentTenant).toMatchObject({ status: 'SUSPENDED', statusReason: 'Unpaid invoices' });
    expect((await gql(t.gatewayUrl, MyTenantsDocument, {}, { token: bob.token })).errors).toBeUndefined();

    // A gateway that never heard the announcement asks tenancy, and refuses too.
    const late = await startExtraGateway(t, { pubsub: new MemoryPubSub() });
    try {
      expect(codes(await gql(late.url, RoomsDocument, {}, { token: bob.token }))).toEqual(['TENANT_SUSPENDED']);
    } finally {
      await late.stop();
    }
    expect(
      codes(
        await gql(t.gatewayUrl, SuspendTenantDocument, { id: bob.tenantId, reason: 'again' }, { token: root.token }),
      ),
    ).toEqual(['INVALID_STATUS_CHANGE']);

    expect(
      (await gql(t.gatewayUrl, ReactivateTenantDocument, { id: bob.tenantId }, { token: root.token })).data!
        .reactivateTenant.status,
    ).toBe('ACTIVE');
    expect((await gql(t.gatewayUrl, RoomsDocument, {}, { token: bob.token })).errors).toBeUndefined();

    const log = await gql(
      t.gatewayUrl,
      AuditDetailsDocument,
      { filter: { actorId: root.userId } },
      { token: bob.token },
    );
    expect(log.data!.auditLog.edges.map((e) => [e.node.action, e.node.details])).toEqual([
      ['tenant_reactivate', { status: 'active', reason: null }],
      ['tenant_suspend', { status: 'suspended', reason: 'Unpaid invoices' }],
    ]);
    const own = await gql(
      t.gatewayUrl,
      AuditDetailsDocument,
      { filter: { action: 'tenant_suspend' } },
      { token: root.token },
    );
    expect(own.data!.auditLog.edges).toHaveLength(1);
  });

  it('refuses unknown tenants and over-long reasons', async () => {
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          SuspendTenantDocument,
          { id: '00000000-0000-4000-8000-000000000000', reason: 'x' },
          { token: root.token },
        ),
      ),
    ).toEqual(['TENANT_NOT_FOUND']);
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          SuspendTenantDocument,
          { id: root.tenantId, reason: 'x'.repeat(501) },
          { token: root.token },
        ),
      ),
    ).toEqual(['INVALID_TENANT']);
  });
});

describe('tenant settings', () => {
  it('keeps a data residency label and a read-receipt policy, checked and audited', async () => {
    const owner = await signUp(t.gatewayUrl, 'Settings Co');
    const read = () =>
      gql(t.gatewayUrl, TenantSettingsDocument, {}, { token: owner.token }).then((r) => r.data!.currentTenant.settings);
    expect(await read()).toEqual({ dataResidency: null, readReceipts: 'PUBLIC' });
    const set = await gql(
      t.gatewayUrl,
      UpdateTenantSettingsDocument,
      { input: { dataResidency: 'EU-West', readReceipts: 'PRIVATE' } },
      { token: owner.token },
    );
    expect(set.data!.updateTenantSettings).toEqual({ dataResidency: 'eu-west', readReceipts: 'PRIVATE' });
    expect(await read()).toEqual({ dataResidency: 'eu-west', readReceipts: 'PRIVATE' });
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          UpdateTenantSettingsDocument,
          { input: { dataResidency: 'x' } },
          { token: owner.token },
        ),
      ),
    ).toEqual(['INVALID_TENANT']);
    const member = await joinByInvitation(t.gatewayUrl, t.config, owner);
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          UpdateTenantSettingsDocument,
          { input: { readReceipts: 'PUBLIC' } },
          { token: member.token },
        ),
      ),
    ).toEqual(['FORBIDDEN']);
    expect(
      (
        await gql(
          t.gatewayUrl,
          UpdateTenantSettingsDocument,
          { input: { dataResidency: null } },
          { token: owner.token },
        )
      ).data!.updateTenantSettings,
    ).toEqual({
      dataResidency: null,
      readReceipts: 'PRIVATE',
    });
    const log = await gql(
      t.gatewayUrl,
      AuditDetailsDocument,
      { filter: { action: 'tenant_settings_update' } },
      { token: owner.token },
    );
    expect(log.data!.auditLog.edges.map((e) => e.node.details)).toEqual([
      { dataResidency: null, readReceipts: 'private' },
      { dataResidency: 'eu-west', readReceipts: 'private' },
    ]);
  });
});
