import {
  CreateDocumentDocument,
  CreateLedgerAccountDocument,
  CreateProductDocument,
  CreateTransfersDocument,
  CurrentTenantDocument,
  LedgerAccountsDocument,
  LedgerEntriesDocument,
  VerifyLedgerDocument,
  LoginDocument,
  MeDocument,
  MessageByIdDocument,
  MessagesDocument,
  RegisterDocument,
  DocumentsDocument,
  ProductsDocument,
  RoomsDocument,
  MeVerifiedDocument,
  ResendEmailVerificationDocument,
  SwitchTenantDocument,
  RequestPasswordResetDocument,
  ResetPasswordDocument,
  ChangePasswordDocument,
  TenantUsersDocument,
  AuditLogDocument,
} from './generated/graphql';
import { randomBytes, randomUUID } from 'node:crypto';
import { sqlOn } from './support/db';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { IdentityAsciiDomains1765600100000 } from '../migrations/identity/1765600100000-identity-ascii-domains';
import { SUBJECTS, mailsTo, tokenFrom, waitForMail } from './support/mailbox';
import { codes } from './support/gql';
import { uniqueEmail } from './support/fixtures';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;

/** Writes to the platform's database directly (rows as an earlier version stored them). */
const sql = (text: string, values: unknown[] = []) => sqlOn(t.databaseUrl, text, values);

/** Runs one migration's `up` again, as the database owner. */
async function migrate(migration: MigrationInterface): Promise<void> {
  await migration.up({ query: (text: string, values?: unknown[]) => sql(text, values) } as unknown as QueryRunner);
}

beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(async () => {
  await t?.stop();
});

describe('federation through the gateway', () => {
  it('registers a user with a new tenant and returns fields from identity and tenancy in one operation', async () => {
    const email = uniqueEmail('founder');
    const res = await t.anonymous().gql(RegisterDocument, {
      input: { email, password: 'a long password', tenantName: 'Initech' },
    });
    expect(res.errors).toBeUndefined();
    expect(res.data!.register.user.email).toBe(email);
    expect(res.data!.register.tenant.name).toBe('Initech');
    expect(res.data!.register.refreshToken).toMatch(/^nxr_/);
  });

  it('gives a new tenant its general room, created by messaging from the registration event', async () => {
    const account = await t.signUp('Evented');
    const rooms = await account.gql(RoomsDocument, {});
    expect(rooms.data!.rooms.map((r) => r.name)).toEqual(['general']);
  });

  it('logs in and reads the account and the tenant with its members', async () => {
    const account = await t.signUp('Globex');
    const login = await t.anonymous().gql(LoginDocument, {
      input: { email: account.email, password: account.password },
    });
    expect(login.errors).toBeUndefined();
    const token = login.data!.login.accessToken;
    expect(login.data!.login.tenant).toEqual({ id: account.tenantId, name: 'Globex' });
    const me = await t.as(token).gql(MeDocument, {});
    expect(me.data!.me.email).toBe(account.email);
    const tenant = await t.as(token).gql(CurrentTenantDocument, {});
    expect(tenant.data!.currentTenant).toMatchObject({
      name: 'Globex',
      slug: expect.stringMatching(/^globex/),
      status: 'ACTIVE',
    });
    expect(tenant.data!.currentTenant.members).toEqual([
      { role: 'owner', user: { id: account.userId, email: account.email } },
    ]);
  });

  it('refuses a wrong password and an unknown email with the same error', async () => {
    const account = await t.signUp();
    const wrong = await t.anonymous().gql(LoginDocument, {
      input: { email: account.email, password: 'not the password' },
    });
    const unknown = await t.anonymous().gql(LoginDocument, {
      input: { email: uniqueEmail(), password: 'whatever123' },
    });
    expect(codes(wrong)).toEqual(['INVALID_CREDENTIALS']);
    expect(codes(unknown)).toEqual(['INVALID_CREDENTIALS']);
    expect(wrong.errors![0].message).toBe(unknown.errors![0].message);
  });

  it('answers a registration for an address that has an account as for a new one; the address stays its owner’s, who is told by mail', async () => {
    const owner = await t.signUp('Original');
    const register = (email: string) =>
      t.anonymous().gql(RegisterDocument, { input: { email, password: 'another pass phrase', tenantName: 'Second' } });
    const newcomer = uniqueEmail('newcomer');
    const fresh = await register(newcomer);
    const again = await register(owner.email.toUpperCase());
    // The same answer: a signed-in new account and tenant, showing the address it gave.
    const looks = (res: typeof fresh, email: string) => ({
      status: res.status,
      errors: res.errors,
      keys: Object.keys(res.data!.register).sort(),
      email: res.data!.register.user.email === email,
      tenant: res.data!.register.tenant.name,
    });
    expect(looks(again, owner.email)).toEqual(looks(fresh, newcomer));
    const second = again.data!.register;
    expect(second.user.id).not.toBe(owner.userId);
    expect(second.tenant.id).not.toBe(owner.tenantId);
    for (const [token, email] of [
      [fresh.data!.register.accessToken, newcomer],
      [second.accessToken, owner.email],
    ]) {
      expect((await t.as(token).gql(MeVerifiedDocument, {})).data!.me.emailVerified).toBe(false);
      expect((await t.as(token).gql(MeDocument, {})).data!.me.email).toBe(email);
      expect((await t.as(token).gql(ResendEmailVerificationDocument, {})).data).toEqual({
        resendEmailVerification: true,
      });
    }
    // Signing in with the address: each password reaches its own account, the owner's untouched.
    const signIn = (email: string, password: string) =>
      t.anonymous().gql(LoginDocument, { input: { email, password } });
    expect((await signIn(owner.email, owner.password)).data!.login.user.id).toBe(owner.userId);
    expect((await signIn(owner.email, 'another pass phrase')).data!.login.user.id).toBe(second.user.id);
    expect((await signIn(newcomer, 'another pass phrase')).data!.login.user.id).toBe(fresh.data!.register.user.id);
    expect(codes(await signIn(owner.email, 'neither of them'))).toEqual(['INVALID_CREDENTIALS']);
    expect(codes(await t.as(second.accessToken).gql(SwitchTenantDocument, { tenantId: owner.tenantId }))).toEqual([
      'NOT_A_MEMBER',
    ]);
    // The owner is told (no confirmation link for the other account ever reaches the address); a reset reaches the owner's account.
    const notice = await waitForMail(t.config, owner.email, SUBJECTS.registeredAgain);
    expect(notice.text).not.toMatch(/token=/);
    // What it says is so: the other account does sign in with the address, with its own password only.
    expect(notice.text).toMatch(/signs in with this address only with a different password of its own/);
    expect(notice.text).not.toMatch(/cannot be reached/);
    await t.anonymous().gql(RequestPasswordResetDocument, { email: owner.email });
    const resetToken = tokenFrom(await waitForMail(t.config, owner.email, SUBJECTS.reset));
    expect(mailsTo(t.config, owner.email).filter((m) => m.subject === SUBJECTS.verification)).toHaveLength(1);
    await t.anonymous().gql(ResetPasswordDocument, {
      input: { token: resetToken, newPassword: 'the owner resets it' },
    });
    expect((await signIn(owner.email, 'the owner resets it')).data!.login.user.id).toBe(owner.userId);
    expect((await signIn(owner.email, 'another pass phrase')).data!.login.user.id).toBe(second.user.id);
    // The other account's own password, changed, still reaches it alone.
    const changed = await t.as(second.accessToken).gql(ChangePasswordDocument, {
      input: { currentPassword: 'another pass phrase', newPassword: 'second one changes it' },
    });
    expect(changed.errors).toBeUndefined();
    expect((await signIn(owner.email, 'second one changes it')).data!.login.user.id).toBe(second.user.id);
    expect(codes(await signIn(owner.email, 'another pass phrase'))).toEqual(['INVALID_CREDENTIALS']);
  });

  it("signs the address's holder in with the holder's password, whichever account a registration naming it made with that password", async () => {
    const owner = await t.signUp('Holder');
    await owner.turnOnTotp();
    const signIn = (password: string) => t.anonymous().gql(LoginDocument, { input: { email: owner.email, password } });
    const register = (password: string) =>
      t.anonymous().gql(RegisterDocument, { input: { email: owner.email, password, tenantName: 'Shadow' } });
    // A registration giving the holder's own password is answered as any other, but that password still reaches the
    // holder alone (whose second factor is asked for), never the account it made.
    const copy = await register(owner.password);
    expect(copy.errors).toBeUndefined();
    expect(copy.data!.register.user.id).not.toBe(owner.userId);
    expect(codes(await signIn(owner.password))).toEqual(['TWO_FACTOR_REQUIRED']);
    // The holder changes to a password a registration already has: the holder wins from then on.
    const early = (await register('the next owner password')).data!.register;
    expect((await signIn('the next owner password')).data!.login.user.id).toBe(early.user.id);
    const changed = await owner.gql(ChangePasswordDocument, {
      input: { currentPassword: owner.password, newPassword: 'the next owner password' },
    });
    expect(changed.errors).toBeUndefined();
    expect(codes(await signIn('the next owner password'))).toEqual(['TWO_FACTOR_REQUIRED']);
    // Likewise by a reset.
    expect((await register('a password reset gives')).errors).toBeUndefined();
    await t.anonymous().gql(RequestPasswordResetDocument, { email: owner.email });
    const resetToken = tokenFrom(await waitForMail(t.config, owner.email, SUBJECTS.reset));
    expect(
      (
        await t.anonymous().gql(ResetPasswordDocument, {
          input: { token: resetToken, newPassword: 'a password reset gives' },
        })
      ).errors,
    ).toBeUndefined();
    expect(codes(await signIn('a password reset gives'))).toEqual(['TWO_FACTOR_REQUIRED']);
    // A registration's account changing to the holder's password does not take it either (and is answered as any change).
    const other = (await register('a password of its own')).data!.register;
    const taking = await t.as(other.accessToken).gql(ChangePasswordDocument, {
      input: { currentPassword: 'a password of its own', newPassword: 'a password reset gives' },
    });
    expect(taking.errors).toBeUndefined();
    expect(codes(await signIn('a password reset gives'))).toEqual(['TWO_FACTOR_REQUIRED']);
    expect(codes(await signIn('a password of its own'))).toEqual(['INVALID_CREDENTIALS']);
  });

  it('shows the address a registration named, when another account holds it, only to the account it made; others see confirmed addresses only', async () => {
    const owner = await t.signUp('Named');
    const made = (
      await t.anonymous().gql(RegisterDocument, {
        input: { email: owner.email, password: 'a shadow pass phrase', tenantName: 'Shadow Co' },
      })
    ).data!.register;
    // To the account itself: in its sign-in's payload and in `me`.
    expect(made.user.email).toBe(owner.email);
    expect((await t.as(made.accessToken).gql(MeDocument, {})).data!.me.email).toBe(owner.email);
    const signedIn = await t.anonymous().gql(LoginDocument, {
      input: { email: owner.email, password: 'a shadow pass phrase' },
    });
    expect(signedIn.data!.login.user).toEqual({ id: made.user.id, email: owner.email });
    // To a fellow member of its tenant, neither in the member list nor as a message's author.
    const shadow = t.user({
      token: made.accessToken,
      userId: made.user.id,
      tenantId: made.tenant.id,
      email: owner.email,
      password: 'a shadow pass phrase',
    });
    const member = await shadow.invite();
    const listed = (await member.gql(TenantUsersDocument, {})).data!.tenantUsers;
    expect(listed.find((u) => u.user.id === made.user.id)!.user.email).toBeNull();
    const { messageId } = await shadow.createRoomWithMessage('hello from the shadow');
    expect((await member.gql(MessageByIdDocument, { id: messageId })).data!.message!.author).toEqual({ email: null });
    // A confirmed address shows as always (the member joined through a link mailed to it).
    expect(listed.find((u) => u.user.id === member.userId)!.user.email).toMatch(/^member-/);
    // One nobody has confirmed yet shows to others no more than the one above, or they would tell a held address
    // from a free one; once confirmed, it shows.
    const fresh = await t.signUp('Fresh Co');
    const peer = await fresh.invite();
    const seen = async () =>
      (await peer.gql(TenantUsersDocument, {})).data!.tenantUsers.find((u) => u.user.id === fresh.userId)!.user.email;
    expect(await seen()).toBeNull();
    expect((await fresh.gql(MeDocument, {})).data!.me.email).toBe(fresh.email);
    await fresh.confirmEmail();
    expect(await seen()).toBe(fresh.email);
  });

  it('writes failed sign-ins and resets by address in no log a registrant could read to learn whether the address was free', async () => {
    const holder = await t.signUp('Confirmed holder');
    await holder.confirmEmail();
    const free = uniqueEmail('free');
    const probe = async (email: string) => {
      const made = (
        await t.anonymous().gql(RegisterDocument, {
          input: { email, password: 'a probing pass phrase', tenantName: 'Probe' },
        })
      ).data!.register;
      expect(
        codes(await t.anonymous().gql(LoginDocument, { input: { email, password: 'not the password at all' } })),
      ).toEqual(['INVALID_CREDENTIALS']);
      await t.anonymous().gql(RequestPasswordResetDocument, { email });
      await waitForMail(t.config, email, SUBJECTS.reset);
      const log = await t.as(made.accessToken).gql(AuditLogDocument, { first: 50 });
      return log.data!.auditLog.edges.map((e) => e.node.action);
    };
    // The registrant's own log reads the same whether the address was free or held.
    const onFree = await probe(free);
    const onHeld = await probe(holder.email);
    expect(onFree).toEqual(['register']);
    expect(onHeld).toEqual(onFree);
    // The holder, who confirmed the address, sees both in its log.
    const own = await holder.gql(AuditLogDocument, { filter: { result: 'FAILURE' }, first: 50 });
    expect(own.data!.auditLog.edges.map((e) => e.node.action)).toEqual(['login_failed']);
    const resets = await holder.gql(AuditLogDocument, { filter: { action: 'password_reset_requested' }, first: 50 });
    expect(resets.data!.auditLog.edges).toHaveLength(1);
  });

  it('still signs in and answers accounts stored under the earlier address rule, and takes internationalised domains in either form', async () => {
    const tag = randomBytes(3).toString('hex');
    // Addresses the earlier rule let in: a non-ASCII local part, `_` in the domain, a trailing dot.
    for (const stored of [`jörg-${tag}@legacy.test`, `ann-${tag}@my_host.legacy.test`, `tim-${tag}@legacy.test.`]) {
      const account = await t.signUp('Legacy');
      await sql(`UPDATE identity.users SET email = $2 WHERE id = $1`, [account.userId, stored]);
      const login = await t.anonymous().gql(LoginDocument, {
        input: { email: ` ${stored.toUpperCase()} `, password: account.password },
      });
      expect({ stored, user: login.data?.login.user.id }).toEqual({ stored, user: account.userId });
      // No mail can go there: a reset answers as always and mails nothing; asking for a confirmation link says why.
      expect((await t.anonymous().gql(RequestPasswordResetDocument, { email: stored })).data).toEqual({
        requestPasswordReset: true,
      });
      expect(codes(await t.as(login.data!.login.accessToken).gql(ResendEmailVerificationDocument, {}))).toEqual([
        'INVALID_EMAIL',
      ]);
      expect(mailsTo(t.config, stored)).toEqual([]);
    }
    // An internationalised domain, typed in Unicode, is kept in its xn-- form and found by either.
    const ida = (
      await t.anonymous().gql(RegisterDocument, {
        input: { email: `Ida-${tag}@BÜCHER.test`, password: 'a long password', tenantName: 'IDN' },
      })
    ).data!.register;
    expect(ida.user.email).toBe(`ida-${tag}@xn--bcher-kva.test`);
    for (const typed of [`ida-${tag}@bücher.test`, `ida-${tag}@xn--bcher-kva.test`]) {
      expect(
        (await t.anonymous().gql(LoginDocument, { input: { email: typed, password: 'a long password' } })).data!.login
          .user.id,
      ).toBe(ida.user.id);
    }
    expect(
      codes(
        await t.anonymous().gql(RegisterDocument, {
          input: { email: `x-${tag}@b%C3%BCcher.test`, password: 'a long password' },
        }),
      ),
    ).toEqual(['INVALID_EMAIL']);
    // One stored with its domain as typed is converted to that form when migrating, and found the same way.
    const uwe = await t.signUp('IDN before');
    await sql(`UPDATE identity.users SET email = $2 WHERE id = $1`, [uwe.userId, `uwe-${tag}@bücher.test`]);
    await migrate(new IdentityAsciiDomains1765600100000());
    expect(
      (await t.anonymous().gql(LoginDocument, { input: { email: `UWE-${tag}@Bücher.test`, password: uwe.password } }))
        .data!.login.user,
    ).toEqual({
      id: uwe.userId,
      email: `uwe-${tag}@xn--bcher-kva.test`,
    });
  });

  it('rejects weak passwords and malformed emails', async () => {
    const weak = await t.anonymous().gql(RegisterDocument, { input: { email: uniqueEmail(), password: 'short' } });
    const bad = await t.anonymous().gql(RegisterDocument, {
      input: { email: 'not-an-email', password: 'long enough pw' },
    });
    expect(codes(weak)).toEqual(['WEAK_PASSWORD']);
    expect(codes(bad)).toEqual(['INVALID_EMAIL']);
    for (const several of [
      'ada,bob@example.test',
      '<ada@example.test>',
      'ada@example.test, bob@example.test',
      '"ada"@example.test',
    ]) {
      const res = await t.anonymous().gql(RegisterDocument, { input: { email: several, password: 'long enough pw' } });
      expect({ several, codes: codes(res) }).toEqual({ several, codes: ['INVALID_EMAIL'] });
    }
  });

  it('sends a message and reads it back with its author resolved by identity', async () => {
    const account = await t.signUp();
    const { roomId, messageId } = await account.createRoomWithMessage('hello\u0007 world');
    const one = await account.gql(MessageByIdDocument, { id: messageId });
    expect(one.data!.message).toEqual({ id: messageId, body: 'hello world', author: { email: account.email } });
    const history = await account.gql(MessagesDocument, { roomId });
    expect(history.data!.messages.edges.map((e) => e.node.author)).toEqual([
      { id: account.userId, email: account.email },
    ]);
  });

  it('pages message history with cursors, newest first', async () => {
    const account = await t.signUp();
    const { roomId } = await account.createRoomWithMessage('m0');
    for (const body of ['m1', 'm2', 'm3', 'm4']) {
      await account.sendMessage(roomId, body);
    }
    const first = await account.gql(MessagesDocument, { roomId, first: 3 });
    expect(first.data!.messages.edges.map((e) => e.node.body)).toEqual(['m4', 'm3', 'm2']);
    expect(first.data!.messages.pageInfo.hasNextPage).toBe(true);
    const next = await account.gql(MessagesDocument, {
      roomId,
      first: 3,
      after: first.data!.messages.pageInfo.endCursor,
    });
    expect(next.data!.messages.edges.map((e) => e.node.body)).toEqual(['m1', 'm0']);
    expect(next.data!.messages.pageInfo.hasNextPage).toBe(false);
    const bad = await account.gql(MessagesDocument, { roomId, after: 'garbage' });
    expect(codes(bad)).toEqual(['INVALID_CURSOR']);
  });

  it('rejects empty and oversized messages and stores nothing', async () => {
    const account = await t.signUp();
    const { roomId } = await account.createRoomWithMessage('only one');
    const empty = await account.sendMessage(roomId, ' \u0007 ');
    const huge = await account.sendMessage(roomId, 'x'.repeat(4001));
    expect(codes(empty)).toEqual(['INVALID_MESSAGE']);
    expect(codes(huge)).toEqual(['INVALID_MESSAGE']);
    const history = await account.gql(MessagesDocument, { roomId });
    expect(history.data!.messages.edges).toHaveLength(1);
  });

  it('serves every subgraph: products, ledger accounts, transfers and verifiable entries, documents', async () => {
    const account = await t.signUp();
    const product = await account.gql(CreateProductDocument, {
      input: { name: 'Pro plan', priceCents: 2900, currency: 'eur' },
    });
    expect(product.data!.createProduct).toMatchObject({ name: 'Pro plan', priceCents: 2900, currency: 'EUR' });
    expect((await account.gql(ProductsDocument, {})).data!.products).toHaveLength(1);
    const open = async (code: string) =>
      (await account.gql(CreateLedgerAccountDocument, { input: { code, currency: 'EUR' } })).data!.createLedgerAccount;
    const cash = await open('cash');
    const sales = await open('sales');
    expect(cash).toMatchObject({ code: 'cash', currency: 'EUR', balance: '0' });
    const sold = await account.gql(CreateTransfersDocument, {
      input: [{ id: randomUUID(), debitAccountId: cash.id, creditAccountId: sales.id, amount: '2900', memo: 'a' }],
    });
    expect(sold.data!.createTransfers.map((r) => r.status)).toEqual(['CREATED']);
    const accounts = (await account.gql(LedgerAccountsDocument, {})).data!.ledgerAccounts;
    expect(accounts.map((a) => [a.code, a.balance])).toEqual([
      ['cash', '-2900'],
      ['sales', '2900'],
    ]);
    const opened = await account.gql(LedgerEntriesDocument, { filter: { type: 'account.created' } });
    expect(opened.data!.ledgerEntries.nodes.map((e) => e.index)).toEqual([cash.entryIndex, sales.entryIndex]);
    expect((await account.gql(VerifyLedgerDocument, {})).data!.verifyLedger.ok).toBe(true);
    const doc = await account.gql(CreateDocumentDocument, { input: { title: 'Handbook', content: 'Be kind.' } });
    expect(doc.data!.createDocument).toMatchObject({ title: 'Handbook', embedded: false });
    expect((await account.gql(DocumentsDocument, {})).data!.documents).toHaveLength(1);
  });

  it('refuses anonymous callers on everything but the public operations', async () => {
    const me = await t.anonymous().gql(MeDocument, {});
    expect(codes(me)).toEqual(['UNAUTHENTICATED']);
    expect(me.data).toBeNull();
    const products = await t.anonymous().gql(ProductsDocument, {});
    expect(codes(products)).toEqual(['UNAUTHENTICATED']);
  });
});
