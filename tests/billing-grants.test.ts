import type { DataSource } from 'typeorm';
import type { EventPayloadInput } from '../kernel/contracts/events';
import { createSubgraphDataSource } from '../kernel/db/data-source';
import { withSystem } from '../kernel/db/tenant-scope';
import { recordEvent } from '../kernel/events';
import { InternalClient } from '../gateway/internal-client';
import {
  InstallModuleDocument,
  ModulesDocument,
  MyAccessDocument,
  PublishModuleDocument,
  ReactivateTenantDocument,
  RoomsDocument,
  SetTenantLimitsDocument,
  SuspendTenantDocument,
  TenantStatusDocument,
  UsageDocument,
} from './generated/graphql';
import type { User } from './support/client';
import { sqlOn } from './support/db';
import { uniqueEmail } from './support/fixtures';
import { codes } from './support/gql';
import { startTestPlatform, type TestPlatform } from './support/platform';

/**
 * Tenancy grants what the tenant's platform plan includes (commerce.subscription_changed) and suspends a tenant
 * whose billing is delinquent (commerce.billing_standing_changed). Commerce's events are written here the way
 * commerce writes them: into its outbox, in a commerce transaction; its relay publishes them.
 */
const ROOT = uniqueEmail('operator');
let t: TestPlatform;
let root: User;
let commerce: DataSource;

beforeAll(async () => {
  t = await startTestPlatform(undefined, { SUPER_ADMIN_EMAILS: ROOT });
  commerce = await createSubgraphDataSource({
    url: t.databaseUrl,
    schema: 'commerce',
    entities: [],
    migrations: [],
    poolSize: 1,
  }).initialize();
  root = await t.signUp('Operators', ROOT);
  // A Super Admin by configuration holds the address confirmed.
  await root.confirmEmail();
  await root.turnOnTotp();
}, 60_000);
afterAll(async () => {
  await commerce?.destroy();
  await t?.stop();
});

type CommerceEvent = 'commerce.subscription_changed' | 'commerce.billing_standing_changed';

/** Commerce's side: the event in its outbox, committed; its relay publishes it. */
function publish<T extends CommerceEvent>(type: T, payload: EventPayloadInput<T> & { tenantId: string }) {
  return withSystem(commerce, 'test: commerce publishes', (em) =>
    recordEvent(em, 'commerce', { type, tenantId: payload.tenantId, payload }),
  );
}

const grant = (tenantId: string, version: number, modules: string[], limits: Record<string, number>) =>
  publish('commerce.subscription_changed', {
    tenantId,
    version,
    planId: `plan-${version}`,
    status: 'active',
    modules,
    limits,
    actorId: null,
  });

const standing = (tenantId: string, version: number, value: 'good' | 'delinquent', invoiceId?: string) =>
  publish('commerce.billing_standing_changed', { tenantId, version, standing: value, invoiceId });

/** Polls until `read` gives what `done` accepts (events are consumed asynchronously). */
async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until tenancy's consumer handled the event (applied or ignored). */
const handled = (consumer: string, eventId: string) =>
  eventually(
    `${consumer} handled ${eventId}`,
    () =>
      sqlOn(t.databaseUrl, `SELECT 1 FROM tenancy.processed_events WHERE consumer = $1 AND event_id = $2`, [
        consumer,
        eventId,
      ]),
    (rows) => rows.length === 1,
  );

const installed = async (account: User) =>
  (await account.gql(ModulesDocument, {}))
    .data!.modules.filter((m) => m.installed)
    .map((m) => m.id)
    .sort();
const limitsOf = async (account: User) =>
  Object.fromEntries(
    (await account.gql(UsageDocument, {})).data!.usage.metrics.map((m) => [m.metric, Number(m.limit)]),
  );
const statusOf = async (account: User) => (await account.gql(TenantStatusDocument, {})).data!.currentTenant;

describe('plan grants', () => {
  let owner: User;

  beforeAll(async () => {
    owner = await t.signUp('Subscriber');
    // A module that needs one the plans below never grant.
    const published = await root.gql(PublishModuleDocument, {
      input: {
        id: 'insights',
        name: 'Insights',
        version: '1.0.0',
        minPlatformVersion: '0.1.0',
        dependencies: ['ai-assistant'],
        permissions: ['insights:read'],
        entitlements: {},
        emits: [],
        consumes: [],
      },
    });
    expect(published.errors).toBeUndefined();
    // The tenant's own choice, before any plan.
    expect((await owner.gql(InstallModuleDocument, { id: 'chat' })).errors).toBeUndefined();
  });

  it("installs the plan's modules in dependency order and sets its limits", async () => {
    const event = await grant(owner.tenantId, 1, ['affiliates', 'insights', 'billing', 'chat'], {
      api_calls: 5000,
      messages: 2000,
    });
    await handled('plan-grants', event);
    expect(await installed(owner)).toEqual(['affiliates', 'billing', 'chat']);
    const { entitlements } = (await owner.gql(ModulesDocument, {})).data!;
    expect(entitlements.map((e) => e.key)).toEqual(['affiliates.links', 'billing.invoices', 'messages.per_month']);
    expect(await limitsOf(owner)).toMatchObject({ API_CALLS: 5000, MESSAGES: 2000, MEMBERS: 50 });
    // Identity granted the modules' permissions from tenancy's events.
    await eventually(
      'permissions of the granted modules',
      async () => (await owner.gql(MyAccessDocument, {})).data!.myAccess.permissions,
      (p) => p.includes('affiliates:read') && p.includes('billing:manage'),
    );
  });

  it('takes back only what the previous grant gave, modules and limits', async () => {
    // An operator's own limit on a metric no plan sets stays.
    const set = await root.gql(SetTenantLimitsDocument, { tenantId: owner.tenantId, limits: { members: 7 } });
    expect(set.errors).toBeUndefined();
    const event = await grant(owner.tenantId, 2, ['billing'], { api_calls: 9000, llm_tokens: 10 });
    await handled('plan-grants', event);
    // affiliates came with the plan and goes; chat was the tenant's own (even though plan 1 named it).
    expect(await installed(owner)).toEqual(['billing', 'chat']);
    expect(await limitsOf(owner)).toEqual({
      API_CALLS: 9000,
      MESSAGES: 100_000,
      MEMBERS: 7,
      STORAGE_BYTES: 10 * 1024 ** 3,
      LLM_TOKENS: 10,
    });
    await eventually(
      'permissions of the module taken back',
      async () => (await owner.gql(MyAccessDocument, {})).data!.myAccess.permissions,
      (p) => !p.includes('affiliates:read') && p.includes('billing:manage'),
    );
  });

  it('ignores a grant older than the one applied', async () => {
    const event = await grant(owner.tenantId, 1, ['ai-assistant'], { api_calls: 1 });
    await handled('plan-grants', event);
    expect(await installed(owner)).toEqual(['billing', 'chat']);
    expect((await limitsOf(owner)).API_CALLS).toBe(9000);
  });

  it('takes everything back when the plan ends', async () => {
    await handled('plan-grants', await grant(owner.tenantId, 3, [], {}));
    expect(await installed(owner)).toEqual(['chat']);
    expect(await limitsOf(owner)).toMatchObject({ API_CALLS: 1_000_000, MEMBERS: 7, LLM_TOKENS: 1_000_000 });
  });
});

describe('billing standing', () => {
  let owner: User;

  beforeAll(async () => {
    owner = await t.signUp('Late Payer');
  });

  it('suspends a delinquent tenant and reactivates it once it is in good standing', async () => {
    expect((await owner.gql(RoomsDocument, {})).errors).toBeUndefined();
    await standing(owner.tenantId, 1, 'delinquent', 'in_123');
    const refused = await eventually(
      'requests refused',
      () => owner.gql(RoomsDocument, {}),
      (r) => codes(r).includes('TENANT_SUSPENDED'),
    );
    expect(refused.status).toBe(403);
    expect(await statusOf(owner)).toMatchObject({
      status: 'SUSPENDED',
      statusReason: 'billing: invoice in_123 unpaid past the grace period',
    });

    // An older standing changes nothing.
    await handled('billing-standing', await standing(owner.tenantId, 1, 'good'));
    expect((await statusOf(owner)).status).toBe('SUSPENDED');

    await standing(owner.tenantId, 2, 'good');
    await eventually(
      'requests admitted again',
      () => owner.gql(RoomsDocument, {}),
      (r) => r.errors === undefined,
    );
    expect(await statusOf(owner)).toMatchObject({ status: 'ACTIVE', statusReason: null });
    const [changed] = await sqlOn(
      t.databaseUrl,
      `SELECT count(*)::int AS n FROM tenancy.outbox WHERE tenant_id = $1 AND type = 'tenancy.tenant_status_changed'`,
      [owner.tenantId],
    );
    expect(changed.n).toBe(2);
  });

  it("never lifts an operator's suspension", async () => {
    const suspended = await root.gql(SuspendTenantDocument, { id: owner.tenantId, reason: 'Terms violation' });
    expect(suspended.errors).toBeUndefined();
    await handled('billing-standing', await standing(owner.tenantId, 3, 'delinquent', 'in_456'));
    await handled('billing-standing', await standing(owner.tenantId, 4, 'good'));
    expect(await statusOf(owner)).toMatchObject({ status: 'SUSPENDED', statusReason: 'Terms violation' });
    expect(codes(await owner.gql(RoomsDocument, {}))).toEqual(['TENANT_SUSPENDED']);
    expect((await root.gql(ReactivateTenantDocument, { id: owner.tenantId })).errors).toBeUndefined();
  });
});

describe('usage events', () => {
  it("carry the bucket's total after each recording", async () => {
    const owner = await t.signUp('Metered Subscriber');
    const tenancy = new InternalClient('tenancy', () => t.subgraphUrl('tenancy'), t.keys.context.privateKey!);
    const hour = '2026-01-05T10:00:00.000Z';
    const at = '2026-01-05T10:17:00.000Z';
    await tenancy.call('record-usage', [
      { tenantId: owner.tenantId, metric: 'messages', module: 'chat', hour: at, amount: 3 },
      { tenantId: owner.tenantId, metric: 'api_calls', hour: at, amount: 2 },
    ]);
    await tenancy.call('record-usage', [
      { tenantId: owner.tenantId, metric: 'messages', module: 'chat', hour: at, amount: 4 },
    ]);
    const rows = await sqlOn(
      t.databaseUrl,
      `SELECT tenant_id, payload FROM tenancy.outbox WHERE tenant_id = $1 AND type = 'tenancy.usage_recorded'
        ORDER BY created_at`,
      [owner.tenantId],
    );
    const payloads = rows.map((r) => r.payload);
    const base = { tenantId: owner.tenantId, hour };
    expect(payloads).toEqual(
      expect.arrayContaining([
        { ...base, metric: 'messages', module: 'chat', amount: 3 },
        { ...base, metric: 'api_calls', module: '', amount: 2 },
      ]),
    );
    expect(payloads).toHaveLength(3);
    expect(payloads[2]).toEqual({ ...base, metric: 'messages', module: 'chat', amount: 7 });
  });
});
