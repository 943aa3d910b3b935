import {
  AppendLedgerEntryDocument,
  CreateDocumentDocument,
  CreateProductDocument,
  CurrentTenantDocument,
  LedgerEntriesDocument,
  LoginDocument,
  MeDocument,
  MessageByIdDocument,
  MessagesDocument,
  RegisterDocument,
  SendMessageDocument,
  DocumentsDocument,
  ProductsDocument,
  RoomsDocument,
} from './generated/graphql';
import { codes, gql } from './support/gql';
import { createRoomWithMessage, signUp, uniqueEmail } from './support/fixtures';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(async () => {
  await t?.stop();
});

describe('federation through the gateway', () => {
  it('registers a user with a new tenant and returns fields from identity and tenancy in one operation', async () => {
    const email = uniqueEmail('founder');
    const res = await gql(t.gatewayUrl, RegisterDocument, { input: { email, password: 'a long password', tenantName: 'Initech' } });
    expect(res.errors).toBeUndefined();
    expect(res.data!.register.user.email).toBe(email);
    expect(res.data!.register.tenant.name).toBe('Initech');
    expect(res.data!.register.refreshToken).toMatch(/^nxr_/);
  });

  it('gives a new tenant its general room, created by messaging from the registration event', async () => {
    const account = await signUp(t.gatewayUrl, 'Evented');
    const rooms = await gql(t.gatewayUrl, RoomsDocument, {}, { token: account.token });
    expect(rooms.data!.rooms.map((r) => r.name)).toEqual(['general']);
  });

  it('logs in and reads the account and the tenant with its members', async () => {
    const account = await signUp(t.gatewayUrl, 'Globex');
    const login = await gql(t.gatewayUrl, LoginDocument, { input: { email: account.email, password: account.password } });
    expect(login.errors).toBeUndefined();
    const token = login.data!.login.accessToken;
    expect(login.data!.login.tenant).toEqual({ id: account.tenantId, name: 'Globex' });
    const me = await gql(t.gatewayUrl, MeDocument, {}, { token });
    expect(me.data!.me.email).toBe(account.email);
    const tenant = await gql(t.gatewayUrl, CurrentTenantDocument, {}, { token });
    expect(tenant.data!.currentTenant).toMatchObject({ name: 'Globex', slug: expect.stringMatching(/^globex/), status: 'ACTIVE' });
    expect(tenant.data!.currentTenant.members).toEqual([{ role: 'owner', user: { id: account.userId, email: account.email } }]);
  });

  it('refuses a wrong password and an unknown email with the same error', async () => {
    const account = await signUp(t.gatewayUrl);
    const wrong = await gql(t.gatewayUrl, LoginDocument, { input: { email: account.email, password: 'not the password' } });
    const unknown = await gql(t.gatewayUrl, LoginDocument, { input: { email: uniqueEmail(), password: 'whatever123' } });
    expect(codes(wrong)).toEqual(['INVALID_CREDENTIALS']);
    expect(codes(unknown)).toEqual(['INVALID_CREDENTIALS']);
    expect(wrong.errors![0].message).toBe(unknown.errors![0].message);
  });

  it('refuses a second account with the same email, whatever its case', async () => {
    const account = await signUp(t.gatewayUrl);
    const again = await gql(t.gatewayUrl, RegisterDocument, { input: { email: account.email.toUpperCase(), password: 'another password' } });
    expect(codes(again)).toEqual(['EMAIL_TAKEN']);
  });

  it('rejects weak passwords and malformed emails', async () => {
    const weak = await gql(t.gatewayUrl, RegisterDocument, { input: { email: uniqueEmail(), password: 'short' } });
    const bad = await gql(t.gatewayUrl, RegisterDocument, { input: { email: 'not-an-email', password: 'long enough pw' } });
    expect(codes(weak)).toEqual(['WEAK_PASSWORD']);
    expect(codes(bad)).toEqual(['INVALID_EMAIL']);
  });

  it('sends a message and reads it back with its author resolved by identity', async () => {
    const account = await signUp(t.gatewayUrl);
    const { roomId, messageId } = await createRoomWithMessage(t.gatewayUrl, account, 'hello\u0007 world');
    const one = await gql(t.gatewayUrl, MessageByIdDocument, { id: messageId }, { token: account.token });
    expect(one.data!.message).toEqual({ id: messageId, body: 'hello world', author: { email: account.email } });
    const history = await gql(t.gatewayUrl, MessagesDocument, { roomId }, { token: account.token });
    expect(history.data!.messages.edges.map((e) => e.node.author)).toEqual([{ id: account.userId, email: account.email }]);
  });

  it('pages message history with cursors, newest first', async () => {
    const account = await signUp(t.gatewayUrl);
    const { roomId } = await createRoomWithMessage(t.gatewayUrl, account, 'm0');
    for (const body of ['m1', 'm2', 'm3', 'm4']) {
      await gql(t.gatewayUrl, SendMessageDocument, { input: { roomId, body } }, { token: account.token });
    }
    const first = await gql(t.gatewayUrl, MessagesDocument, { roomId, first: 3 }, { token: account.token });
    expect(first.data!.messages.edges.map((e) => e.node.body)).toEqual(['m4', 'm3', 'm2']);
    expect(first.data!.messages.pageInfo.hasNextPage).toBe(true);
    const next = await gql(
      t.gatewayUrl,
      MessagesDocument,
      { roomId, first: 3, after: first.data!.messages.pageInfo.endCursor },
      { token: account.token },
    );
    expect(next.data!.messages.edges.map((e) => e.node.body)).toEqual(['m1', 'm0']);
    expect(next.data!.messages.pageInfo.hasNextPage).toBe(false);
    const bad = await gql(t.gatewayUrl, MessagesDocument, { roomId, after: 'garbage' }, { token: account.token });
    expect(codes(bad)).toEqual(['INVALID_CURSOR']);
  });

  it('rejects empty and oversized messages and stores nothing', async () => {
    const account = await signUp(t.gatewayUrl);
    const { roomId } = await createRoomWithMessage(t.gatewayUrl, account, 'only one');
    const empty = await gql(t.gatewayUrl, SendMessageDocument, { input: { roomId, body: ' \u0007 ' } }, { token: account.token });
    const huge = await gql(t.gatewayUrl, SendMessageDocument, { input: { roomId, body: 'x'.repeat(4001) } }, { token: account.token });
    expect(codes(empty)).toEqual(['INVALID_MESSAGE']);
    expect(codes(huge)).toEqual(['INVALID_MESSAGE']);
    const history = await gql(t.gatewayUrl, MessagesDocument, { roomId }, { token: account.token });
    expect(history.data!.messages.edges).toHaveLength(1);
  });

  it('serves every subgraph: products, hash-chained ledger entries and documents', async () => {
    const account = await signUp(t.gatewayUrl);
    const opts = { token: account.token };
    const product = await gql(t.gatewayUrl, CreateProductDocument, { input: { name: 'Pro plan', priceCents: 2900, currency: 'eur' } }, opts);
    expect(product.data!.createProduct).toMatchObject({ name: 'Pro plan', priceCents: 2900, currency: 'EUR' });
    expect((await gql(t.gatewayUrl, ProductsDocument, {}, opts)).data!.products).toHaveLength(1);
    const e1 = await gql(t.gatewayUrl, AppendLedgerEntryDocument, { input: { account: 'cash', amountCents: 100, memo: 'a' } }, opts);
    const e2 = await gql(t.gatewayUrl, AppendLedgerEntryDocument, { input: { account: 'cash', amountCents: -40 } }, opts);
    expect(e1.data!.appendLedgerEntry.sequence).toBe(1);
    expect(e2.data!.appendLedgerEntry).toMatchObject({ sequence: 2, prevHash: e1.data!.appendLedgerEntry.hash });
    const ledger = await gql(t.gatewayUrl, LedgerEntriesDocument, { first: 10 }, opts);
    expect(ledger.data!.verifyLedger).toBe(true);
    expect(ledger.data!.ledgerEntries.map((e) => e.amountCents)).toEqual([-40, 100]);
    const doc = await gql(t.gatewayUrl, CreateDocumentDocument, { input: { title: 'Handbook', content: 'Be kind.' } }, opts);
    expect(doc.data!.createDocument).toMatchObject({ title: 'Handbook', embedded: false });
    expect((await gql(t.gatewayUrl, DocumentsDocument, {}, opts)).data!.documents).toHaveLength(1);
  });

  it('refuses anonymous callers on everything but the public operations', async () => {
    const me = await gql(t.gatewayUrl, MeDocument, {});
    expect(codes(me)).toEqual(['UNAUTHENTICATED']);
    expect(me.data).toBeNull();
    const products = await gql(t.gatewayUrl, ProductsDocument, {});
    expect(codes(products)).toEqual(['UNAUTHENTICATED']);
  });
});
