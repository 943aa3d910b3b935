import { Client } from 'pg';
import { SUBGRAPHS } from '../kernel/services';
import {
  AddDomainDocument,
  CreateApiKeyDocument,
  CreateDocumentDocument,
  CreateGroupDocument,
  CreateLedgerAccountDocument,
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
import { codes } from './support/gql';
import { uniqueEmail } from './support/fixtures';
import type { User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { sleep } from './support/ws';

const ROOT = uniqueEmail('operator');
const TRIAL_SECONDS = 4;
let t: TestPlatform;
let db: Client;
let root: User;

beforeAll(async () => {
  t = await startTestPlatform(undefined, {
    SUPER_ADMIN_EMAILS: ROOT,
    TRIAL_PERIOD_SECONDS: String(TRIAL_SECONDS),
    TENANT_DELETE_GRACE_SECONDS: '2',
    JOB_POLL_MS: '200',
  });
  db = new Client({ connectionString: t.databaseUrl });
  await db.connect();
  root = await t.signUp('Operators', ROOT);
  // A Super Admin by configuration holds the address confirmed.
  await root.confirmEmail();
  await root.turnOnTotp();
  await root.gql(ExtendTrialDocument, { id: root.tenantId, until: new Date(Date.now() + 86_400_000).toISOString() });
});
afterAll(async () => {
  await db?.end();
  await t?.stop();
});

const lifecycle = (token: string) =>
  t
    .as(token)
    .gql(TenantLifecycleDocument, {})
    .then((r) => r.data!.currentTenant);

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
    const a = await t.signUp('Trial A');
    const b = await t.signUp('Trial B');
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
    const refused = await a.gql(RoomsDocument, {});
    expect(refused.status).toBe(403);
    expect(codes(refused)).toEqual(['TRIAL_EXPIRED']);

    const extended = await root.gql(ExtendTrialDocument, {
      id: a.tenantId,
      until: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(extended.data!.extendTrial.status).toBe('ACTIVE');
    expect((await a.gql(RoomsDocument, {})).errors).toBeUndefined();
    expect(
      codes(await root.gql(ExtendTrialDocument, { id: a.tenantId, until: new Date(Date.now() - 1000).toISOString() })),
    ).toEqual(['INVALID_TENANT']);

    // Reactivating after the trial takes the tenant off trial for good.
    await until(
      () => lifecycle(b.token),
      (x) => x.status === 'TRIAL_EXPIRED',
    );
    await root.gql(ReactivateTenantDocument, { id: b.tenantId });
    expect(await lifecycle(b.token)).toMatchObject({ status: 'ACTIVE', trialEndsAt: null });
    expect(
      codes(await b.gql(ExtendTrialDocument, { id: b.tenantId, until: new Date(Date.now() + 1000).toISOString() })),
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

  async function fill(account: User): Promise<void> {
    const token = account.token;
    await root.gql(ExtendTrialDocument, {
      id: account.tenantId,
      until: new Date(Date.now() + 86_400_000).toISOString(),
    });
    await t.as(token).gql(CreateProductDocument, { input: { name: 'Widget', priceCents: 100, currency: 'USD' } });
    await t.as(token).gql(CreateLedgerAccountDocument, { input: { code: 'cash', currency: 'EUR' } });
    await account.createRoomWithMessage('hello');
    await t.as(token).gql(CreateDocumentDocument, { input: { title: 'Doc', content: 'text' } });
    await t.as(token).gql(CreateRoleDocument, { input: { name: 'Custom', permissions: ['products:read'] } });
    await t.as(token).gql(CreateGroupDocument, { input: { name: 'Group' } });
    await t.as(token).gql(CreateApiKeyDocument, { input: { name: 'key', permissions: ['products:read'] } });
    await t.as(token).gql(AddDomainDocument, { domain: `${account.tenantId.slice(0, 8)}.purge.test` });
    await account.invite('admin');
    await t.as(token).gql(UpdateBrandingDocument, { input: { displayName: 'Doomed' } });
  }

  it('is for the owner only, refuses the tenant at once, and can be undone during the grace period', async () => {
    const owner = await t.signUp('Undo Co');
    await root.gql(ExtendTrialDocument, { id: owner.tenantId, until: new Date(Date.now() + 86_400_000).toISOString() });
    const admin = await owner.invite('admin');
    expect(codes(await admin.gql(DeleteTenantDocument, { id: owner.tenantId }))).toEqual(['FORBIDDEN']);
    expect(codes(await owner.gql(DeleteTenantDocument, { id: root.tenantId }))).toEqual(['TENANT_NOT_FOUND']);

    const deleted = await owner.gql(DeleteTenantDocument, { id: owner.tenantId });
    expect(deleted.data!.deleteTenant.status).toBe('DELETED');
    const refused = await admin.gql(RoomsDocument, {});
    expect([refused.status, codes(refused)]).toEqual([403, ['TENANT_DELETED']]);
    expect((await owner.gql(RestoreTenantDocument, { id: owner.tenantId })).data!.restoreTenant.status).toBe('ACTIVE');
    await sleep(2500); // past the original grace period: the purge job finds nothing to do
    expect((await admin.gql(RoomsDocument, {})).errors).toBeUndefined();
    expect(await rowsOf(owner.tenantId)).toHaveProperty(['tenancy.tenants'], 1);
  });

  it("purges the tenant's rows from every subgraph after the grace period, and nobody else's", async () => {
    const doomed = await t.signUp('Doomed Co');
    const other = await t.signUp('Survivor Co');
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
        'ledger.accounts',
        'messaging.rooms',
        'messaging.messages',
        'intelligence.documents',
      ]),
    );
    const otherBefore = await rowsOf(other.tenantId);
    await doomed.gql(DeleteTenantDocument, { id: doomed.tenantId });
    const after = await until(
      () => rowsOf(doomed.tenantId),
      (rows) => Object.keys(rows).length === 0,
    );
    expect(after).toEqual({});
    // The ledger leaves a tombstone in the platform log: the purged log's last checkpoint, and the platform log stays valid.
    type Tombstone = { payload: { log: string; treeSize: number; rootHash: string } };
    const tombstones = await root.raw<{
      ledgerEntries: { nodes: Tombstone[] };
      verifyLedger: { ok: boolean; problem: string | null };
    }>({
      query: `query($f: LedgerEntryFilter) { ledgerEntries(log: PLATFORM, filter: $f, first: 500) { nodes { payload } } verifyLedger(log: PLATFORM) { ok problem } }`,
      variables: { f: { type: 'log.purged' } },
    });
    expect(tombstones.errors).toBeUndefined();
    const tombstone = tombstones.data!.ledgerEntries.nodes.find((e) => e.payload.log === doomed.tenantId)!;
    expect(tombstone.payload).toMatchObject({ treeSize: expect.any(Number), rootHash: expect.any(String) });
    expect(tombstone.payload.treeSize).toBeGreaterThan(0);
    expect(tombstones.data!.verifyLedger).toEqual({ ok: true, problem: null });
    // …and the purged log is never opened again (an event arriving late writes nothing).
    const purged = await db.query(`SELECT 1 FROM ledger.purged_logs WHERE owner_tenant = $1`, [doomed.tenantId]);
    expect(purged.rowCount).toBe(1);
    await db.query('BEGIN');
    try {
      await db.query(`SELECT set_config('role', 'nexus_app', true), set_config('app.tenant_id', $1, true)`, [
        doomed.tenantId,
      ]);
      await expect(db.query(`INSERT INTO ledger.heads (tenant_id) VALUES ($1)`, [doomed.tenantId])).rejects.toThrow(
        /was purged/,
      );
    } finally {
      await db.query('ROLLBACK');
    }
    // The other tenant keeps every kind of row it had.
    expect(Object.keys(await rowsOf(other.tenantId))).toEqual(expect.arrayContaining(Object.keys(otherBefore)));
    expect((await other.gql(ProductsDocument, {})).data!.products).toHaveLength(1);
    const gone = await doomed.gql(MyTenantsDocument, {});
    expect(gone.status).toBe(403);
  });
});
