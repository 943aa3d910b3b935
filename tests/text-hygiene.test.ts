import { createHmac, randomUUID } from 'node:crypto';
import {
  CreateDocumentDocument,
  CreateLedgerAccountDocument,
  CreateRoomWebhookDocument,
  CreateTransfersDocument,
  CreateTypedRoomDocument,
  TransfersDocument,
  VerifyLedgerDocument,
} from './generated/graphql';
import { CONTEXT_HEADER, signContextToken } from '../kernel/context-token';
import type { RequestContext } from '../kernel/context';
import { codes, rawGql } from './support/gql';
import { uniqueEmail } from './support/fixtures';
import type { User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { connect, type Subscription, type WsSession } from './support/ws';

let t: TestPlatform;
let owner: User;
let roomId: string;
const sessions: WsSession[] = [];

beforeAll(async () => {
  t = await startTestPlatform();
  owner = await t.signUp('Hygiene Co');
  roomId = (await owner.gql(CreateTypedRoomDocument, { input: { name: 'hygiene', type: 'GENERAL' } })).data!.createRoom
    .id;
}, 60_000);
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.dispose()));
  await t?.stop();
});

const NUL = 'a\u0000b';
const LONE = 'a\ud800b';
const LONE_LOW = 'a\udc00b';

/** A transfer between two accounts (that need not exist: the memo is refused before anything is looked up). */
const transferInput = (
  memo: string,
  debitAccountId: string = randomUUID(),
  creditAccountId: string = randomUUID(),
) => ({
  id: randomUUID(),
  debitAccountId,
  creditAccountId,
  amount: '100',
  memo,
});

/** One string input: the operation, its variables with `bad` in the field under test, and whether it needs a signed-in caller. */
type Case = [name: string, query: string, variables: (bad: string) => Record<string, unknown>, signedIn: boolean];

const CASES: Case[] = [
  // Anonymous operations.
  [
    'register.email',
    'mutation($i: RegisterInput!) { register(input: $i) { accessToken } }',
    (bad) => ({ i: { email: `x${bad}@example.test`, password: 'correct horse battery' } }),
    false,
  ],
  [
    'register.password',
    'mutation($i: RegisterInput!) { register(input: $i) { accessToken } }',
    (bad) => ({ i: { email: 'fresh@example.test', password: `correct horse ${bad}` } }),
    false,
  ],
  [
    'register.tenantName',
    'mutation($i: RegisterInput!) { register(input: $i) { accessToken } }',
    (bad) => ({ i: { email: 'fresh2@example.test', password: 'correct horse battery', tenantName: bad } }),
    false,
  ],
  [
    'login.email',
    'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
    (bad) => ({ i: { email: `x${bad}@example.test`, password: 'whatever it is' } }),
    false,
  ],
  [
    'login.password',
    'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
    (bad) => ({ i: { email: 'nobody@example.test', password: bad } }),
    false,
  ],
  [
    'requestPasswordReset.email',
    'mutation($e: String!) { requestPasswordReset(email: $e) }',
    (bad) => ({ e: `x${bad}@example.test` }),
    false,
  ],
  [
    'resetPassword.token',
    'mutation($i: ResetPasswordInput!) { resetPassword(input: $i) }',
    (bad) => ({ i: { token: bad, newPassword: 'correct horse battery' } }),
    false,
  ],
  ['verifyEmail.token', 'mutation($v: String!) { verifyEmail(token: $v) }', (bad) => ({ v: bad }), false],
  [
    'acceptInvitation.token',
    'mutation($i: AcceptInvitationInput!) { acceptInvitation(input: $i) { accessToken } }',
    (bad) => ({ i: { token: bad, password: 'correct horse battery' } }),
    false,
  ],
  [
    'refreshSession.refreshToken',
    'mutation($v: String!) { refreshSession(refreshToken: $v) { accessToken } }',
    (bad) => ({ v: bad }),
    false,
  ],
  [
    'verifyLoginChallenge.code',
    'mutation($i: VerifyLoginChallengeInput!) { verifyLoginChallenge(input: $i) { accessToken } }',
    (bad) => ({ i: { challengeToken: 'x', code: bad } }),
    false,
  ],
  [
    'tenantBranding.slug',
    'query($v: String) { tenantBranding(slug: $v) { displayName } }',
    (bad) => ({ v: bad }),
    false,
  ],
  [
    'tenantBranding.domain',
    'query($v: String) { tenantBranding(domain: $v) { displayName } }',
    (bad) => ({ v: bad }),
    false,
  ],
  // Signed-in operations.
  [
    'createRoom.name',
    'mutation($i: CreateRoomInput!) { createRoom(input: $i) { id } }',
    (bad) => ({ i: { name: bad } }),
    true,
  ],
  [
    'sendMessage.body',
    'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }',
    (bad) => ({ i: { roomId, body: bad } }),
    true,
  ],
  [
    'sendMessage.clientMessageId',
    'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }',
    (bad) => ({ i: { roomId, body: 'hi', clientMessageId: bad } }),
    true,
  ],
  [
    'messages.after',
    'query($r: ID!, $v: String) { messages(roomId: $r, after: $v) { edges { cursor } } }',
    (bad) => ({ r: roomId, v: bad }),
    true,
  ],
  ['messages.roomId', 'query($r: ID!) { messages(roomId: $r) { edges { cursor } } }', (bad) => ({ r: bad }), true],
  [
    'createRoomWebhook.name',
    'mutation($r: ID!, $v: String!) { createRoomWebhook(roomId: $r, name: $v) { secret } }',
    (bad) => ({ r: roomId, v: bad }),
    true,
  ],
  [
    'setPresence.deviceId',
    'mutation($i: SetPresenceInput!) { setPresence(input: $i) { status } }',
    (bad) => ({ i: { deviceId: bad, status: 'ONLINE' } }),
    true,
  ],
  [
    'createDocument.title',
    'mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }',
    (bad) => ({ i: { title: bad, content: 'text' } }),
    true,
  ],
  [
    'createDocument.content',
    'mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }',
    (bad) => ({ i: { title: 'notes', content: bad } }),
    true,
  ],
  [
    'createLedgerAccount.code',
    'mutation($i: CreateLedgerAccountInput!) { createLedgerAccount(input: $i) { id } }',
    (bad) => ({ i: { code: bad, currency: 'EUR' } }),
    true,
  ],
  [
    'createTransfers.memo',
    'mutation($i: [CreateTransferInput!]!) { createTransfers(input: $i) { status } }',
    (bad) => ({ i: [transferInput(bad)] }),
    true,
  ],
  [
    'createProduct.name',
    'mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }',
    (bad) => ({ i: { name: bad, priceCents: 100 } }),
    true,
  ],
  [
    'createRole.name',
    'mutation($i: CreateRoleInput!) { createRole(input: $i) { id } }',
    (bad) => ({ i: { name: bad, permissions: [] } }),
    true,
  ],
  [
    'createRole.permissions',
    'mutation($i: CreateRoleInput!) { createRole(input: $i) { id } }',
    (bad) => ({ i: { name: 'auditors', permissions: [bad] } }),
    true,
  ],
  [
    'createGroup.name',
    'mutation($i: CreateGroupInput!) { createGroup(input: $i) { id } }',
    (bad) => ({ i: { name: bad } }),
    true,
  ],
  [
    'createApiKey.name',
    'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }',
    (bad) => ({ i: { name: bad, permissions: [] } }),
    true,
  ],
  [
    'createApiKey.permissions',
    'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }',
    (bad) => ({ i: { name: 'ci', permissions: [bad] } }),
    true,
  ],
  [
    'inviteUser.email',
    'mutation($i: InviteUserInput!) { inviteUser(input: $i) { id } }',
    (bad) => ({ i: { email: `x${bad}@example.test` } }),
    true,
  ],
  [
    'updateTenant.name',
    'mutation($i: UpdateTenantInput!) { updateTenant(input: $i) { id } }',
    (bad) => ({ i: { name: bad } }),
    true,
  ],
  [
    'updateBranding.displayName',
    'mutation($i: UpdateBrandingInput!) { updateBranding(input: $i) { displayName } }',
    (bad) => ({ i: { displayName: bad } }),
    true,
  ],
  [
    'updateTenantSettings.dataResidency',
    'mutation($i: UpdateTenantSettingsInput!) { updateTenantSettings(input: $i) { dataResidency } }',
    (bad) => ({ i: { dataResidency: bad } }),
    true,
  ],
  ['addDomain.domain', 'mutation($v: String!) { addDomain(domain: $v) { id } }', (bad) => ({ v: bad }), true],
  [
    'auditLog.filter.action',
    'query($v: String) { auditLog(filter: { action: $v }) { count } }',
    (bad) => ({ v: bad }),
    true,
  ],
  ['usage.period', 'query($v: String) { usage(period: $v) { period } }', (bad) => ({ v: bad }), true],
  [
    'changePassword.currentPassword',
    'mutation($i: ChangePasswordInput!) { changePassword(input: $i) }',
    (bad) => ({ i: { currentPassword: bad, newPassword: 'another horse battery' } }),
    true,
  ],
  ['confirmTotp.code', 'mutation($v: String!) { confirmTotp(code: $v) { backupCodes } }', (bad) => ({ v: bad }), true],
];

/** The codes of the errors an operation sent over the socket ended with (refused outright, or answered with errors). */
async function refusalCodes(op: Subscription<unknown>): Promise<(string | undefined)[]> {
  const outcome = await Promise.race([op.error, op.completed.then(() => op.results.flatMap((r) => r.errors ?? []))]);
  return (outcome as { extensions?: { code?: string } }[]).map((e) => e.extensions?.code);
}

describe('text inputs at the edge', () => {
  it.each([
    ['a NUL character', NUL],
    ['an unpaired high surrogate', LONE],
    ['an unpaired low surrogate', LONE_LOW],
  ])('refuses %s in every string input with BAD_USER_INPUT, signed in or not', async (_what, bad) => {
    const outcomes: Record<string, unknown> = {};
    for (const [name, query, variables, signedIn] of CASES) {
      const res = await (signedIn ? owner : t.anonymous()).raw({ query, variables: variables(bad) });
      outcomes[name] = { status: res.status, codes: codes(res) };
    }
    expect(outcomes).toEqual(
      Object.fromEntries(CASES.map(([name]) => [name, { status: 400, codes: ['BAD_USER_INPUT'] }])),
    );
  });

  it('refuses a NUL character written into the operation as an inline literal', async () => {
    const res = await owner.raw({ query: 'mutation { createRoom(input: { name: "a\\u0000b" }) { id } }' });
    expect([res.status, codes(res)]).toEqual([400, ['BAD_USER_INPUT']]);
    const anonymous = await t.anonymous().raw({
      query: 'mutation { requestPasswordReset(email: "x\\u0000@example.test") }',
    });
    expect([anonymous.status, codes(anonymous)]).toEqual([400, ['BAD_USER_INPUT']]);
  });

  it('refuses them over WebSocket, in subscriptions and in operations sent on the socket', async () => {
    const s = connect(t.gatewayUrl, { authorization: `Bearer ${owner.token}` });
    sessions.push(s);
    for (const bad of [NUL, LONE]) {
      const sub = s.subscribe(`subscription($r: ID!) { roomEvents(roomId: $r) { kind } }`, { r: `${roomId}${bad}` });
      const sent = s.subscribe(`mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }`, {
        i: { roomId, body: bad },
      });
      expect(await Promise.all([refusalCodes(sub), refusalCodes(sent)])).toEqual([
        ['BAD_USER_INPUT'],
        ['BAD_USER_INPUT'],
      ]);
    }
  });

  it('refuses them in a webhook body, storing nothing', async () => {
    const created = (await owner.gql(CreateRoomWebhookDocument, { roomId, name: 'ci' })).data!.createRoomWebhook;
    const url = new URL(created.webhook.path, t.gatewayUrl).toString();
    for (const body of ['{"text":"a\\u0000b"}', '{"text":"a\\ud800b"}']) {
      const ts = String(Math.floor(Date.now() / 1000));
      const signature = `v1=${createHmac('sha256', created.secret).update(`${ts}.${body}`).digest('hex')}`;
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'nexus-timestamp': ts, 'nexus-signature': signature },
        body,
      });
      const json = (await res.json()) as { error?: { code?: string } };
      expect([res.status, json.error?.code]).toEqual([400, 'BAD_USER_INPUT']);
    }
  });
});

describe('text inputs behind the edge', () => {
  it('are refused by each subgraph itself, whoever the caller (BAD_USER_INPUT before any resolver runs)', async () => {
    const ctx: RequestContext = {
      requestId: 'hygiene',
      tenantId: owner.tenantId,
      userId: owner.userId,
      sessionId: null,
      roles: ['owner'],
      permissions: ['*'],
      authMethod: 'password',
    };
    const direct = async (subgraph: string, query: string, variables: Record<string, unknown>) => {
      const token = await signContextToken(ctx, subgraph, t.keys.context.privateKey!);
      return codes(
        await rawGql(t.subgraphUrl(subgraph), { query, variables }, { headers: { [CONTEXT_HEADER]: token } }),
      );
    };
    const outcomes = {
      messaging: await direct('messaging', 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }', {
        i: { roomId, body: LONE },
      }),
      ledger: await direct(
        'ledger',
        'mutation($i: [CreateTransferInput!]!) { createTransfers(input: $i) { status } }',
        {
          i: [transferInput(LONE)],
        },
      ),
      identity: await direct('identity', 'mutation($i: CreateGroupInput!) { createGroup(input: $i) { id } }', {
        i: { name: NUL },
      }),
      tenancy: await direct('tenancy', 'mutation($i: UpdateTenantInput!) { updateTenant(input: $i) { id } }', {
        i: { name: NUL },
      }),
      intelligence: await direct(
        'intelligence',
        'mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }',
        { i: { title: 'x', content: 'x'.repeat(100_001) } },
      ),
    };
    expect(outcomes).toEqual({
      messaging: ['BAD_USER_INPUT'],
      ledger: ['BAD_USER_INPUT'],
      identity: ['BAD_USER_INPUT'],
      tenancy: ['BAD_USER_INPUT'],
      intelligence: ['BAD_USER_INPUT'],
    });
  });
});

describe('names', () => {
  // Right-to-left override, isolates, marks: each makes a name display as something it is not.
  const BIDI = [
    '\u202E',
    '\u202A',
    '\u202B',
    '\u202C',
    '\u202D',
    '\u2066',
    '\u2067',
    '\u2068',
    '\u2069',
    '\u200E',
    '\u200F',
    '\u061C',
  ];
  const spoof = (name: string) => `${BIDI.join('')}${name}\u202Efdp.exe`;

  it('are stored without bidirectional formatting controls, whichever service keeps them', async () => {
    const fresh = uniqueEmail('bidi');
    const registered = await t.anonymous().raw<{ register: { accessToken: string; tenant: { name: string } } }>({
      query: 'mutation($i: RegisterInput!) { register(input: $i) { accessToken tenant { name } } }',
      variables: { i: { email: fresh, password: 'correct horse battery', tenantName: spoof('Tenant') } },
    });
    const token = registered.data!.register.accessToken;
    const run = async (
      query: string,
      variables: Record<string, unknown>,
      pick: (data: Record<string, unknown>) => unknown,
    ) => {
      const res = await t.as(token).raw({ query, variables });
      if (!res.data) throw new Error(`${query}: ${JSON.stringify(res.errors)}`);
      return pick(res.data as Record<string, unknown>);
    };
    type Named = Record<
      string,
      { name?: string; title?: string; displayName?: string; apiKey?: { name: string }; webhook?: { name: string } }
    >;
    const room = (await run(
      'mutation($i: CreateRoomInput!) { createRoom(input: $i) { id name } }',
      { i: { name: spoof('Room') } },
      (d) => (d as Named).createRoom,
    )) as { id: string; name: string };
    const names = {
      register: registered.data!.register.tenant.name,
      room: room.name,
      renamedTenant: await run(
        'mutation($i: UpdateTenantInput!) { updateTenant(input: $i) { name } }',
        { i: { name: spoof('Renamed') } },
        (d) => (d as Named).updateTenant.name,
      ),
      newTenant: await run(
        'mutation($i: CreateTenantInput!) { createTenant(input: $i) { name } }',
        { i: { name: spoof('Second') } },
        (d) => (d as Named).createTenant.name,
      ),
      role: await run(
        'mutation($i: CreateRoleInput!) { createRole(input: $i) { name description } }',
        { i: { name: spoof('Role'), permissions: [], description: spoof('About') } },
        (d) => (d as Named).createRole,
      ),
      group: await run(
        'mutation($i: CreateGroupInput!) { createGroup(input: $i) { name } }',
        { i: { name: spoof('Group') } },
        (d) => (d as Named).createGroup.name,
      ),
      apiKey: await run(
        'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { name } } }',
        { i: { name: spoof('Key'), permissions: ['messages:read'] } },
        (d) => (d as Named).createApiKey.apiKey!.name,
      ),
      product: await run(
        'mutation($i: CreateProductInput!) { createProduct(input: $i) { name } }',
        { i: { name: spoof('Product'), priceCents: 100 } },
        (d) => (d as Named).createProduct.name,
      ),
      webhook: await run(
        'mutation($r: ID!, $n: String!) { createRoomWebhook(roomId: $r, name: $n) { webhook { name } } }',
        { r: room.id, n: spoof('Hook') },
        (d) => (d as Named).createRoomWebhook.webhook!.name,
      ),
      document: await run(
        'mutation($i: CreateDocumentInput!) { createDocument(input: $i) { title } }',
        { i: { title: spoof('Doc'), content: 'text' } },
        (d) => (d as Named).createDocument.title,
      ),
      branding: await run(
        'mutation($i: UpdateBrandingInput!) { updateBranding(input: $i) { displayName } }',
        { i: { displayName: spoof('Brand') } },
        (d) => (d as Named).updateBranding.displayName,
      ),
    };
    expect(names).toEqual({
      register: 'Tenantfdp.exe',
      room: 'Roomfdp.exe',
      renamedTenant: 'Renamedfdp.exe',
      newTenant: 'Secondfdp.exe',
      role: { name: 'Rolefdp.exe', description: 'Aboutfdp.exe' },
      group: 'Groupfdp.exe',
      apiKey: 'Keyfdp.exe',
      product: 'Productfdp.exe',
      webhook: 'Hookfdp.exe',
      document: 'Docfdp.exe',
      branding: 'Brandfdp.exe',
    });
  });

  it('others see (presence pages, branding names) lose control and bidirectional formatting characters', async () => {
    const presence = await owner.raw<{ setPresence: { page: string } }>({
      query: 'mutation($i: SetPresenceInput!) { setPresence(input: $i) { page } }',
      variables: { i: { deviceId: `${spoof('tab')}\t`, status: 'ONLINE', page: `${spoof('/inbox')}\u0007` } },
    });
    expect(presence.data?.setPresence.page).toBe('/inboxfdp.exe');
    const brand = await owner.raw<{ updateBranding: { displayName: string; emailSenderName: string } }>({
      query: 'mutation($i: UpdateBrandingInput!) { updateBranding(input: $i) { displayName emailSenderName } }',
      variables: { i: { displayName: 'Brand\u0007\t', emailSenderName: `${spoof('Sender')}\u0001` } },
    });
    expect(brand.data?.updateBranding).toEqual({ displayName: 'Brand', emailSenderName: 'Senderfdp.exe' });
    const broken = await owner.raw({
      query: 'mutation($i: UpdateBrandingInput!) { updateBranding(input: $i) { displayName } }',
      variables: { i: { emailSenderName: 'Sender\r\nBcc: x@y.test' } },
    });
    expect(codes(broken)).toEqual(['INVALID_BRANDING']);
  });

  it('made only of such controls are refused as empty', async () => {
    const res = await owner.raw({
      query: 'mutation($i: CreateRoomInput!) { createRoom(input: $i) { id } }',
      variables: { i: { name: BIDI.join('') } },
    });
    expect(codes(res)).toEqual(['INVALID_ROOM_NAME']);
  });
});

describe('length limits', () => {
  const inputDescription = async (type: string, field: string) => {
    const res = await t.anonymous().raw<{ __type: { inputFields: { name: string; description: string | null }[] } }>({
      query: `{ __type(name: "${type}") { inputFields { name description } } }`,
    });
    return res.data!.__type.inputFields.find((f) => f.name === field)!.description;
  };

  const documentLimit = async () =>
    Number(/1 to (\d+) characters/.exec((await inputDescription('CreateDocumentInput', 'content')) ?? '')?.[1]);
  const createDocument = (content: string) =>
    owner.gql(CreateDocumentDocument, { input: { title: 'Handbook', content } });

  it('refuses document content past its documented limit (refused, not cut short)', async () => {
    const limit = await documentLimit();
    expect(limit).toBe(30_000);
    const over = await createDocument('x'.repeat(limit + 1));
    expect(codes(over)).toEqual(['INVALID_DOCUMENT']);
    expect(over.errors![0].message).toBe(`Content must be 1 to ${limit} characters`);
    expect(codes(await createDocument('   '))).toEqual(['INVALID_DOCUMENT']);
    expect((await createDocument('x'.repeat(limit))).errors).toBeUndefined();
  });

  it('takes a document of the documented length in any script (three bytes a character in UTF-8)', async () => {
    const limit = await documentLimit();
    for (const text of ['漢'.repeat(limit), 'ü'.repeat(limit), '🙂'.repeat(limit / 2)]) {
      const res = await createDocument(text);
      expect({ first: text[0], status: res.status, errors: res.errors }).toEqual({
        first: text[0],
        status: 200,
        errors: undefined,
      });
    }
    expect(codes(await createDocument('漢'.repeat(limit + 1)))).toEqual(['INVALID_DOCUMENT']);
  });

  it('states a limit for every free-text input of names, reasons and bodies, and refuses text past it', async () => {
    for (const [type, field] of [
      ['CreateRoomInput', 'name'],
      ['SendMessageInput', 'body'],
      ['CreateRoleInput', 'description'],
      ['CreateTenantInput', 'name'],
      ['CreateApiKeyInput', 'name'],
      ['CreateProductInput', 'name'],
      ['CreateTransferInput', 'memo'],
    ]) {
      expect({ type, field, description: await inputDescription(type, field) }).toEqual({
        type,
        field,
        description: expect.stringMatching(/\d+ characters/),
      });
    }
    const role = await owner.raw({
      query: 'mutation($i: CreateRoleInput!) { createRole(input: $i) { id } }',
      variables: { i: { name: 'Verbose', permissions: [], description: 'x'.repeat(301) } },
    });
    expect(codes(role)).toEqual(['INVALID_ROLE']);
  });
});

describe('ledger memos', () => {
  it('never stores a memo it could not hash as stored: the log stays verifiable', async () => {
    const account = await t.signUp('Ledger Hygiene');
    const open = async (code: string) =>
      (await account.gql(CreateLedgerAccountDocument, { input: { code, currency: 'EUR' } })).data!.createLedgerAccount
        .id;
    const [cash, sales] = [await open('cash'), await open('sales')];
    const transfer = (memo: string) =>
      account.gql(CreateTransfersDocument, { input: [transferInput(memo, cash, sales)] });
    expect((await transfer('opening balance')).data!.createTransfers.map((r) => r.status)).toEqual(['CREATED']);
    const refused = await transfer('x\ud800y');
    expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
    const unicode = 'after the refusal — ünïcödé 🙂';
    expect((await transfer(unicode)).data!.createTransfers.map((r) => r.status)).toEqual(['CREATED']);
    const transfers = (await account.gql(TransfersDocument, {})).data!.transfers;
    expect(transfers.map((tr) => tr.memo)).toEqual(['opening balance', unicode]);
    expect((await account.gql(VerifyLedgerDocument, {})).data!.verifyLedger).toMatchObject({ ok: true });
  });

  it('refuses an account code it could not store as given', async () => {
    const account = await t.signUp('Ledger Codes');
    const open = (code: string) => account.gql(CreateLedgerAccountDocument, { input: { code, currency: 'EUR' } });
    for (const bad of [NUL, LONE]) expect(codes(await open(bad))).toEqual(['BAD_USER_INPUT']);
    for (const bad of ['cash\u202Eevil', 'Cash', 'x'.repeat(65), '']) {
      expect({ bad, codes: codes(await open(bad)) }).toEqual({ bad, codes: ['INVALID_ACCOUNT'] });
    }
    expect((await open('customer:42:wallet')).errors).toBeUndefined();
  });
});
