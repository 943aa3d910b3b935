import { Client } from 'pg';
import { SUBGRAPHS } from '../kernel/services';
import {
  AddDomainDocument,
  AppendLedgerEntryDocument,
  CreateApiKeyDocument,
  CreateDocumentDocument,
  CreateGroupDocument,
  CreateProductDocument,
  CreateRoleDocument,
  DeleteTenantDocument,
  ExtendTrialDocument,
  MyTenantsDocument,
  ProductsDocument,
  ReactivateTenantDocument,
  RestoreTenantDocument,
  RoomsDocument,
  TenantLifecycleDocument,
  UpdateBrandingDocument,
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
import { startTestPlatform, type TestPlatform } from './support/platform';
import { sleep } from './support/ws';

const ROOT = uniqueEmail('operator');
const TRIAL_SECONDS = 4;
let t: TestPlatform;
let db: Client;
let root: Account;

beforeAll(async () => {
  t = await startTestPlatform(undefined, {
    SUPER_ADMIN_EMAILS: ROOT,
    TRIAL_PERIOD_SECONDS: String(TRIAL_SECONDS),
    TENANT_DELETE_GRACE_SECONDS: '2',
    JOB_POLL_MS: '200',
  });
  db = new Client({ connectionString: t.databaseUrl });
  await db.connect();
  root = await signUp(t.gatewayUrl, 'Operators', ROOT);
  // A Super Admin by configuration holds the address confirmed.
  await confirmEmail(t.gatewayUrl, t.config, ROOT);
  await turnOnTotp(t.gatewayUrl, root.token);
  await gql(
    t.gatewayUrl,
    ExtendTrialDocument,
    { id: root.tenantId, until: new Date(Date.now() + 86_400_000).toISOString() },
    { token: root.token },
  );
});
afterAll(async () => {
  await db?.end();
  await t?.stop();
});

const lifecycle = (token: string) =>
  gql(t.gatewayUrl, TenantLifecycleDocument, {}, { token }).then((r) => r.data!.currentTenant);

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  let value = await read();
  while (!done(value) && Date.now() < end) {
    await sleep(200);
    value = await read();
  }
  return value;
}

describe('trial period', () => {
  it('ends by a scheduled job: the tenant is refused until an operator extends or reactivates it', async () => {
    const started = Date.now();
    const a = await signUp(t.gatewayUrl, 'Trial A');
    const b = await signUp(t.gatewayUrl, 'Trial B');
    const fresh = await lifecycle(a.token);
    expect(fresh.status).toBe('ACTIVE');
    expect(Math.abs(Date.parse(fresh.trialEndsAt!) - (started + TRIAL_SECONDS * 1000))).toBeLessThan(3000);

    expect(
      (
        await until(
          () => lifecycle(a.token),
          (x) => x.status === 'TRIAL_EXPIRED',
        )
      ).statusReason,
    ).toBe('Trial period ended');
    const refused = await gql(t.gatewayUrl, RoomsDocument, {}, { token: a.token });
    expect(refused.status).toBe(403);
    expect(codes(refused)).toEqual(['TRIAL_EXPIRED']);

    const extended = await gql(
      t.gatewayUrl,
      ExtendTrialDocument,
      { id: a.tenantId, until: new Date(Date.now() + 3_600_000).toISOString() },
      { token: root.token },
    );
    expect(extended.data!.extendTrial.status).toBe('ACTIVE');
    expect((await gql(t.gatewayUrl, RoomsDocument, {}, { token: a.token })).errors).toBeUndefined();
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          ExtendTrialDocument,
          { id: a.tenantId, until: new Date(Date.now() - 1000).toISOString() },
          { token: root.token },
        ),
      ),
    ).toEqual(['INVALID_TENANT']);

    // Reactivating after the trial takes the tenant off trial for good.
    await until(
      () => lifecycle(b.token),
      (x) => x.status === 'TRIAL_EXPIRED',
    );
    await gql(t.gatewayUrl, ReactivateTenantDocument, { id: b.tenantId }, { token: root.token });
    expect(await lifecycle(b.token)).toMatchObject({ status: 'ACTIVE', trialEndsAt: null });
    expect(
      codes(
        await gql(
          t.gatewayUrl,
          ExtendTrialDocument,
          { id: b.tenantId, until: new Date(Date.now() + 1000).toISOString() },
          { token: b.token },
        ),
      ),
    ).toEqual(['FORBIDDEN']);
  });
});

describe('deletion', () => {
  async function rowsOf(tenantId: string): Promise<Record<string, number>> {
    const found: Record<string, number> = {};
    for (const schema of SUBGRAPHS) {
      const tables = await db.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind = 'r'
            AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)`,
        [schema],
      );
      for (const { name } of tables.rows) {
        const { rows } = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM "${schema}"."${name}" WHERE tenant_id = $1`,
          [tenantId],
        );
        if (rows[0].n > 0) found[`${schema}.${name}`] = rows[0].n;
      }
    }
    return found;
  }

  async function fill(account: Account): Promise<void> {
    const token = account.token;
    await gql(
      t.gatewayUrl,
      ExtendTrialDocument,
      { id: account.tenantId, until: new Date(Date.now() + 86_400_000).toISOString() },
      { token: root.token },
    );
    await gql(
      t.gatewayUrl,
      CreateProductDocument,
      { input: { name: 'Widget', priceCents: 100, currency: 'USD' } },
      { token },
    );
    await gql(t.gatewayUrl, AppendLedgerEntryDocument, { input: { account: 'cash', amountCents: 100 } }, { token });
    await createRoomWithMessage(t.gatewayUrl, account, 'hello');
    await gql(t.gatewayUrl, CreateDocumentDocument, { input: { title: 'Doc', content: 'text' } }, { token });
    await gql(
      t.gatewayUrl,
      CreateRoleDocument,
      { input: { name: 'Custom', permissions: ['products:read'] } },
      { token },
    );
    await gql(t.gatewayUrl, CreateGroupDocument, { input: { name: 'Group' } }, { token });
    await gql(
      t.gatewayUrl,
      CreateApiKeyDocument,
      { input: { name: 'key', permissions: ['products:read'] } },
      { token },
    );
    await gql(t.gatewayUrl, AddDomainDocument, { domain: `${account.tenantId.slice(0, 8)}.purge.test` }, { token });
    await joinByInvitation(t.gatewayUrl, t.config, account, 'admin');
    await gql(t.gatewayUrl, UpdateBrandingDocument, { input: { displayName: 'Doomed' } }, { token });
  }

  it('is for the owner only, refuses the tenant at once, and can be undone during the grace period', async () => {
    const owner = await signUp(t.gatewayUrl, 'Undo Co');
    await gql(
      t.gatewayUrl,
      ExtendTrialDocument,
      { id: owner.tenantId, until: new Date(Date.now() + 86_400_000).toISOString() },
      { token: root.token },
    );
    const admin = await joinByInvitation(t.gatewayUrl, t.config, owner, 'admin');
    expect(
      codes(await gql(t.gatewayUrl, DeleteTenantDocument, { id: owner.tenantId }, { token: admin.token })),
    ).toEqual(['FORBIDDEN']);
    expect(codes(await gql(t.gatewayUrl, DeleteTenantDocument, { id: root.tenantId }, { token: owner.token }))).toEqual(
      ['TENANT_NOT_FOUND'],
    );

    const deleted = await gql(t.gatewayUrl, DeleteTenantDocument, { id: owner.tenantId }, { token: owner.token });
    expect(deleted.data!.deleteTenant.status).toBe('DELETED');
    const refused = await gql(t.gatewayUrl, RoomsDocument, {}, { token: admin.token });
    expect([refused.status, codes(refused)]).toEqual([403, ['TENANT_DELETED']]);
    expect(
      (await gql(t.gatewayUrl, RestoreTenantDocument, { id: owner.tenantId }, { token: owner.token })).data!
        .restoreTenant.status,
    ).toBe('ACTIVE');
    await sleep(2500); // past the original grace period: the purge job finds nothing to do
    expect((await gql(t.gatewayUrl, RoomsDocument, {}, { token: admin.token })).errors).toBeUndefined();
    expect(await rowsOf(owner.tenantId)).toHaveProperty(['tenancy.tenants'], 1);
  });

  it("purges the tenant's rows from every subgraph after the grace period, and nobody else's", async () => {
    const doomed = await signUp(t.gatewayUrl, 'Doomed Co');
    const other = await signUp(t.gatewayUrl, 'Survivor Co');
    await fill(doomed);
    await fill(other);
    const before = await rowsOf(doomed.tenantId);
    expect(Object.keys(before)).toEqual(
      expect.arrayContaining([
        'identity.memberships',
        'identity.sessions',
        'identity.audit_events',
        'identity.api_keys',
        'tenancy.tenants',
        'tenancy.domains',
        'commerce.products',
        'ledger.entries',
        'messaging.rooms',
        'messaging.messages',
        'intelligence.documents',
      ]),
    );
    const otherBefore = await rowsOf(other.tenantId);
    await gql(t.gatewayUrl, DeleteTenantDocument, { id: doomed.tenantId }, { token: doomed.token });
    const after = await until(
      () => rowsOf(doomed.tenantId),
      (rows) => Object.keys(rows).length === 0,
    );
    expect(after).toEqual({});
    // The other tenant keeps every kind of row it had.
    expect(Object.keys(await rowsOf(other.tenantId))).toEqual(expect.arrayContaining(Object.keys(otherBefore)));
    expect((await gql(t.gatewayUrl, ProductsDocument, {}, { token: other.token })).data!.products).toHaveLength(1);
    const gone = await gql(t.gatewayUrl, MyTenantsDocument, {}, { token: doomed.token });
    expect(gone.status).toBe(403);
  });
});
