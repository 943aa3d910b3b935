import {
  AssignRoleDocument,
  InstallModuleDocument,
  LedgerEntriesDocument,
  MuteMemberDocument,
} from './generated/graphql';
import type { User } from './support/client';
import { sqlOn } from './support/db';
import { startTestPlatform, type TestPlatform } from './support/platform';

/**
 * Other subgraphs write to the ledger only through events: role grants, tenant set-up and moderation each
 * become one entry of the tenant's own log, once, whatever the bus redelivers.
 */
let t: TestPlatform;
let owner: User;
let member: User;
let other: User;
let roomId: string;

beforeAll(async () => {
  // The PostgreSQL bus, whose consumer positions the replay test rewinds.
  t = await startTestPlatform(undefined, { REDIS_URL: '' });
  owner = await t.signUp('Ledger Writers');
  other = await t.signUp('Bystanders');
  member = await owner.invite();
  roomId = await owner.createRoom('town hall');
}, 60_000);
afterAll(async () => {
  await t?.stop();
});

type Entry = { index: number; type: string; payload: Record<string, unknown>; sourceEventId: string | null };

async function entries(user: User, filter: { type?: string; sourceEventId?: string } = {}): Promise<Entry[]> {
  const res = await user.gql(LedgerEntriesDocument, { filter, first: 200 });
  if (!res.data) throw new Error(`ledgerEntries failed: ${JSON.stringify(res.errors)}`);
  return res.data.ledgerEntries.nodes as Entry[];
}

/** Events are consumed asynchronously: reads until `done` holds, or fails after the deadline. */
async function eventually(user: User, type: string, done: (found: Entry[]) => boolean): Promise<Entry[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const found = await entries(user, { type });
    if (done(found)) return found;
    if (Date.now() > deadline) throw new Error(`no ${type} entries as expected: ${JSON.stringify(found)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The outbox row an entry came from: the entry's sourceEventId is its event's id. */
async function sourceOf(schema: string, eventId: string): Promise<Record<string, unknown> | undefined> {
  const [row] = await sqlOn(t.databaseUrl, `SELECT type, tenant_id FROM ${schema}.outbox WHERE id = $1`, [eventId]);
  return row;
}

describe('ledger writers', () => {
  it("opens a tenant's log with its registration, without the owner's e-mail address", async () => {
    const [registered] = await eventually(owner, 'identity.tenant_registered', (f) => f.length === 1);
    expect(registered.payload).toEqual({ tenantId: owner.tenantId, name: 'Ledger Writers', ownerUserId: owner.userId });
    expect(JSON.stringify(registered)).not.toContain(owner.email);
    expect(await sourceOf('identity', registered.sourceEventId!)).toEqual({
      type: 'identity.tenant_registered',
      tenant_id: owner.tenantId,
    });
  });

  it('writes a role change as one entry carrying the id of its event', async () => {
    const before = await entries(owner, { type: 'identity.member_role_changed' });
    expect((await owner.gql(AssignRoleDocument, { input: { userId: member.userId, roleId: 'admin' } })).errors).toBe(
      undefined,
    );
    const changes = await eventually(owner, 'identity.member_role_changed', (f) => f.length > before.length);
    expect(changes).toHaveLength(before.length + 1);
    const change = changes.find((e) => e.payload.role === 'admin')!;
    expect(change.payload).toEqual({ tenantId: owner.tenantId, userId: member.userId, role: 'admin' });
    expect(await sourceOf('identity', change.sourceEventId!)).toEqual({
      type: 'identity.member_role_changed',
      tenant_id: owner.tenantId,
    });
    expect(await entries(owner, { sourceEventId: change.sourceEventId! })).toEqual([change]);
    // The invitation that brought the member in is there too.
    const [added] = await eventually(owner, 'identity.member_added', (f) =>
      f.some((e) => e.payload.userId === member.userId),
    );
    expect(added.payload).toEqual({ tenantId: owner.tenantId, userId: member.userId, role: 'member' });
  });

  it('writes a module installation', async () => {
    expect((await owner.gql(InstallModuleDocument, { id: 'billing' })).errors).toBeUndefined();
    const [installed] = await eventually(owner, 'tenancy.module_installed', (f) => f.length === 1);
    expect(installed.payload).toMatchObject({ tenantId: owner.tenantId, moduleId: 'billing', actorId: owner.userId });
    expect(await sourceOf('tenancy', installed.sourceEventId!)).toMatchObject({ type: 'tenancy.module_installed' });
  });

  it('writes a moderation action', async () => {
    const bystander = await owner.invite();
    const muted = await owner.gql(MuteMemberDocument, {
      input: { roomId, userId: bystander.userId, reason: 'flooding', minutes: 10 },
    });
    expect(muted.errors).toBeUndefined();
    const [action] = await eventually(owner, 'messaging.moderation_action', (f) =>
      f.some((e) => e.payload.targetUserId === bystander.userId),
    );
    expect(action.payload).toEqual({
      tenantId: owner.tenantId,
      actorId: owner.userId,
      action: 'mute',
      roomId,
      targetUserId: bystander.userId,
      messageId: null,
      impersonatorId: null,
      reason: 'flooding',
      until: muted.data!.muteMember.until,
    });
    expect(await sourceOf('messaging', action.sourceEventId!)).toEqual({
      type: 'messaging.moderation_action',
      tenant_id: owner.tenantId,
    });
  });

  it('adds nothing when the bus delivers the same events again', async () => {
    const all = async () => (await entries(owner)).filter((e) => e.sourceEventId !== null);
    const written = await all();
    expect(written.length).toBeGreaterThanOrEqual(5);
    // Every event the writers ever took is delivered once more, as after a crash before the position moved.
    const [group] = await sqlOn(
      t.databaseUrl,
      `UPDATE nexus_bus.consumer_groups SET position = 0 WHERE name = 'ledger.ledger-writers' RETURNING types`,
    );
    expect(group).toBeDefined();
    const [{ last }] = await sqlOn(
      t.databaseUrl,
      `SELECT max(seq)::bigint AS last FROM nexus_bus.events WHERE type = ANY($1)`,
      [group.types],
    );
    const deadline = Date.now() + 20_000;
    for (;;) {
      const [{ position }] = await sqlOn(
        t.databaseUrl,
        `SELECT position FROM nexus_bus.consumer_groups WHERE name = 'ledger.ledger-writers'`,
      );
      if (BigInt(position as string) >= BigInt(last as string)) break;
      if (Date.now() > deadline) throw new Error(`replay stuck at ${String(position)} of ${String(last)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await all()).toEqual(written);
    const ids = written.map((e) => e.sourceEventId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("keeps each tenant's entries in its own log", async () => {
    const mine = (await entries(owner)).filter((e) => e.sourceEventId !== null);
    const theirs = (await entries(other)).filter((e) => e.sourceEventId !== null);
    expect(theirs.length).toBeGreaterThanOrEqual(1);
    for (const e of theirs) expect(e.payload.tenantId).toBe(other.tenantId);
    expect(await entries(other, { type: 'identity.member_role_changed' })).toEqual([]);
    expect(await entries(other, { type: 'messaging.moderation_action' })).toEqual([]);
    for (const e of mine) expect(await entries(other, { sourceEventId: e.sourceEventId! })).toEqual([]);
  });
});
