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
  MeVerifiedDocument,
  ResendEmailVerificationDocument,
  SwitchTenantDocument,
  RequestPasswordResetDocument,
  ResetPasswordDocument,
  ChangePasswordDocument,
  TenantUsersDocument,
  AuditLogDocument,
} from './generated/graphql';
import { randomBytes } from 'node:crypto';
import { sqlOn } from './support/db';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { IdentityAsciiDomains1765600100000 } from '../migrations/identity/1765600100000-identity-ascii-domains';
import { SUBJECTS, mailsTo, tokenFrom, waitForMail } from './support/mailbox';
import { codes, gql } from './support/gql';
import {
  confirmEmail,
  createRoomWithMessage,
  joinByInvitation,
  signUp,
  turnOnTotp,
  uniqueEmail,
} from './support/fixtures';
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
    const res = await gql(t.gatewayUrl, RegisterDocument, {
      input: { email, password: 'a long password', tenantName: 'Initech' },
    });
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
    const login = await gql(t.gatewayUrl, LoginDocument, {
      input: { email: account.email, password: account.password },
    });
    expect(login.errors).toBeUndefined();
    const token = login.data!.login.accessToken;
    expect(login.data!.login.tenant).toEqual({ id: account.tenantId, name: 'Globex' });
    const me = await gql(t.gatewayUrl, MeDocument, {}, { token });
    expect(me.data!.me.email).toBe(account.email);
    const tenant = await gql(t.gatewayUrl, CurrentTenantDocument, {}, { token });
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
    const account = await signUp(t.gatewayUrl);
    const wrong = await gql(t.gatewayUrl, LoginDocument, {
      input: { email: account.email, password: 'not the password' },
    });
    const unknown = await gql(t.gatewayUrl, LoginDocument, {
      input: { email: uniqueEmail(), password: 'whatever123' },
    });
    expect(codes(wrong)).toEqual(['INVALID_CREDENTIALS']);
    expect(codes(unknown)).toEqual(['INVALID_CREDENTIALS']);
    expect(wrong.errors![0].message).toBe(unknown.errors![0].message);
  });

  it('answers a registration for an address that has an account as for a new one; the address stays its owner’s, who is told by mail', async () => {
    const owner = await signUp(t.gatewayUrl, 'Original');
    const register = (email: string) =>
      gql(t.gatewayUrl, RegisterDocument, { input: { email, password: 'another pass phrase', tenantName: 'Second' } });
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
      expect((await gql(t.gatewayUrl, MeVerifiedDocument, {}, { token })).data!.me.emailVerified).toBe(false);
      expect((await gql(t.gatewayUrl, MeDocument, {}, { token })).data!.me.email).toBe(email);
      expect((await gql(t.gatewayUrl, ResendEmailVerificationDocument, {}, { token })).data).toEqual({
        resendEmailVerification: true,
      });
    }
    // Signing in with the address: each password reaches its own account, the owner's untouched.
    const signIn = (email: string, password: string) =>
      gql(t.gatewayUrl, LoginDocument, { input: { email, password } });
    expect((await signIn(owner.email, owner.password)).data!.login.user.id).toBe(owner.userId);
    expect((await signIn(owner.email, 'another pass phrase')).data!.login.user.id).toBe(second.user.id);
    expect((await signIn(newcomer, 'another pass phrase')).data!.login.user.id).toBe(fresh.data!.register.user.id);
    expect(codes(await signIn(owner.email, 'neither of them'))).toEqual(['INVALID_CREDENTIALS']);
    expect(
      codes(await gql(t.gatewayUrl, SwitchTenantDocument, { tenantId: owner.tenantId }, { token: second.accessToken })),
    ).toEqual(['NOT_A_MEMBER']);
    // The owner is told (no confirmation link for the other account ever reaches the address); a reset reaches the owner's account.
    const notice = await waitForMail(t.config, owner.email, SUBJECTS.registeredAgain);
    expect(notice.text).not.toMatch(/token=/);
    // What it says is so: the other account does sign in with the address, with its own password only.
    expect(notice.text).toMatch(/signs in with this address only with a different password of its own/);
    expect(notice.text).not.toMatch(/cannot be reached/);
    await gql(t.gatewayUrl, RequestPasswordResetDocument, { email: owner.email });
    const resetToken = tokenFrom(await waitForMail(t.config, owner.email, SUBJECTS.reset));
    expect(mailsTo(t.config, owner.email).filter((m) => m.subject === SUBJECTS.verification)).toHaveLength(1);
    await gql(t.gatewayUrl, ResetPasswordDocument, {
      input: { token: resetToken, newPassword: 'the owner resets it' },
    });
    expect((await signIn(owner.email, 'the owner resets it')).data!.login.user.id).toBe(owner.userId);
    expect((await signIn(owner.email, 'another pass phrase')).data!.login.user.id).toBe(second.user.id);
    // The other account's own password, changed, still reaches it alone.
    const changed = await gql(
      t.gatewayUrl,
      ChangePasswordDocument,
      { input: { currentPassword: 'another pass phrase', newPassword: 'second one changes it' } },
      { token: second.accessToken },
    );
    expect(changed.errors).toBeUndefined();
    expect((await signIn(owner.email, 'second one changes it')).data!.login.user.id).toBe(second.user.id);
    expect(codes(await signIn(owner.email, 'another pass phrase'))).toEqual(['INVALID_CREDENTIALS']);
  });

  it("signs the address's holder in with the holder's password, whichever account a registration naming it made with that password", async () => {
    const owner = await signUp(t.gatewayUrl, 'Holder');
    await turnOnTotp(t.gatewayUrl, owner.token);
    const signIn = (password: string) => gql(t.gatewayUrl, LoginDocument, { input: { email: owner.email, password } });
    const register = (password: string) =>
      gql(t.gatewayUrl, RegisterDocument, { input: { email: owner.email, password, tenantName: 'Shadow' } });
    // A registration giving the holder's own password is answered as any other, but that password still reaches the
    // holder alone (whose second factor is asked for), never the account it made.
    const copy = await register(owner.password);
    expect(copy.errors).toBeUndefined();
    expect(copy.data!.register.user.id).not.toBe(owner.userId);
    expect(codes(await signIn(owner.password))).toEqual(['TWO_FACTOR_REQUIRED']);
    // The holder changes to a password a registration already has: the holder wins from then on.
    const early = (await register('the next owner password')).data!.register;
    expect((await signIn('the next owner password')).data!.login.user.id).toBe(early.user.id);
    const changed = await gql(
      t.gatewayUrl,
      ChangePasswordDocument,
      { input: { currentPassword: owner.password, newPassword: 'the next owner password' } },
      { token: owner.token },
    );
    expect(changed.errors).toBeUndefined();
    expect(codes(await signIn('the next owner password'))).toEqual(['TWO_FACTOR_REQUIRED']);
    // Likewise by a reset.
    expect((await register('a password reset gives')).errors).toBeUndefined();
    await gql(t.gatewayUrl, RequestPasswordResetDocument, { email: owner.email });
    const resetToken = tokenFrom(await waitForMail(t.config, owner.email, SUBJECTS.reset));
    expect(
      (
        await gql(t.gatewayUrl, ResetPasswordDocument, {
          input: { token: resetToken, newPassword: 'a password reset gives' },
        })
      ).errors,
    ).toBeUndefined();
    expect(codes(await signIn('a password reset gives'))).toEqual(['TWO_FACTOR_REQUIRED']);
    // A registration's account changing to the holder's password does not take it either (and is answered as any change).
    const other = (await register('a password of its own')).data!.register;
    const taking = await gql(
      t.gatewayUrl,
      ChangePasswordDocument,
      { input: { currentPassword: 'a password of its own', newPassword: 'a password reset gives' } },
      { token: other.accessToken },
    );
    expect(taking.errors).toBeUndefined();
    expect(codes(await signIn('a password reset gives'))).toEqual(['TWO_FACTOR_REQUIRED']);
    expect(codes(await signIn('a password of its own'))).toEqual(['INVALID_CREDENTIALS']);
  });

  it('shows the address a registration named, when another account holds it, only to the account it made; others see confirmed addresses only', async () => {
    const owner = await signUp(t.gatewayUrl, 'Named');
    const made = (
      await gql(t.gatewayUrl, RegisterDocument, {
        input: { email: owner.email, password: 'a shadow pass phrase', tenantName: 'Shadow Co' },
      })
    ).data!.register;
    // To the account itself: in its sign-in's payload and in `me`.
    expect(made.user.email).toBe(owner.email);
    expect((await gql(t.gatewayUrl, MeDocument, {}, { token: made.accessToken })).data!.me.email).toBe(owner.email);
    const signedIn = await gql(t.gatewayUrl, LoginDocument, {
      input: { email: owner.email, password: 'a shadow pass phrase' },
    });
    expect(signedIn.data!.login.user).toEqual({ id: made.user.id, email: owner.email });
    // To a fellow member of its tenant, neither in the member list nor as a message's author.
    const shadow = {
      token: made.accessToken,
      userId: made.user.id,
      tenantId: made.tenant.id,
      email: owner.email,
      password: 'a shadow pass phrase',
    };
    const member = await joinByInvitation(t.gatewayUrl, t.config, shadow);
    const listed = (await gql(t.gatewayUrl, TenantUsersDocument, {}, { token: member.token })).data!.tenantUsers;
    expect(listed.find((u) => u.user.id === made.user.id)!.user.email).toBeNull();
    const { messageId } = await createRoomWithMessage(t.gatewayUrl, shadow, 'hello from the shadow');
    expect(
      (await gql(t.gatewayUrl, MessageByIdDocument, { id: messageId }, { token: member.token })).data!.message!.author,
    ).toEqual({ email: null });
    // A confirmed address shows as always (the member joined through a link mailed to it).
    expect(listed.find((u) => u.user.id === member.userId)!.user.email).toMatch(/^member-/);
    // One nobody has confirmed yet shows to others no more than the one above, or they would tell a held address
    // from a free one; once confirmed, it shows.
    const fresh = await signUp(t.gatewayUrl, 'Fresh Co');
    const peer = await joinByInvitation(t.gatewayUrl, t.config, fresh);
    const seen = async () =>
      (await gql(t.gatewayUrl, TenantUsersDocument, {}, { token: peer.token })).data!.tenantUsers.find(
        (u) => u.user.id === fresh.userId,
      )!.user.email;
    expect(await seen()).toBeNull();
    expect((await gql(t.gatewayUrl, MeDocument, {}, { token: fresh.token })).data!.me.email).toBe(fresh.email);
    await confirmEmail(t.gatewayUrl, t.config, fresh.email);
    expect(await seen()).toBe(fresh.email);
  });

  it('writes failed sign-ins and resets by address in no log a registrant could read to learn whether the address was free', async () => {
    const holder = await signUp(t.gatewayUrl, 'Confirmed holder');
    await confirmEmail(t.gatewayUrl, t.config, holder.email);
    const free = uniqueEmail('free');
    const probe = async (email: string) => {
      const made = (
        await gql(t.gatewayUrl, RegisterDocument, {
          input: { email, password: 'a probing pass phrase', tenantName: 'Probe' },
        })
      ).data!.register;
      expect(
        codes(await gql(t.gatewayUrl, LoginDocument, { input: { email, password: 'not the password at all' } })),
      ).toEqual(['INVALID_CREDENTIALS']);
      await gql(t.gatewayUrl, RequestPasswordResetDocument, { email });
      await waitForMail(t.config, email, SUBJECTS.reset);
      const log = await gql(t.gatewayUrl, AuditLogDocument, { first: 50 }, { token: made.accessToken });
      return log.data!.auditLog.edges.map((e) => e.node.action);
    };
    // The registrant's own log reads the same whether the address was free or held.
    const onFree = await probe(free);
    const onHeld = await probe(holder.email);
    expect(onFree).toEqual(['register']);
    expect(onHeld).toEqual(onFree);
    // The holder, who confirmed the address, sees both in its log.
    const own = await gql(
      t.gatewayUrl,
      AuditLogDocument,
      { filter: { result: 'FAILURE' }, first: 50 },
      { token: holder.token },
    );
    expect(own.data!.auditLog.edges.map((e) => e.node.action)).toEqual(['login_failed']);
    const resets = await gql(
      t.gatewayUrl,
      AuditLogDocument,
      { filter: { action: 'password_reset_requested' }, first: 50 },
      { token: holder.token },
    );
    expect(resets.data!.auditLog.edges).toHaveLength(1);
  });

  it('still signs in and answers accounts stored under the earlier address rule, and takes internationalised domains in either form', async () => {
    const tag = randomBytes(3).toString('hex');
    // Addresses the earlier rule let in: a non-ASCII local part, `_` in the domain, a trailing dot.
    for (const stored of [`jörg-${tag}@legacy.test`, `ann-${tag}@my_host.legacy.test`, `tim-${tag}@legacy.test.`]) {
      const account = await signUp(t.gatewayUrl, 'Legacy');
      await sql(`UPDATE identity.users SET email = $2 WHERE id = $1`, [account.userId, stored]);
      const login = await gql(t.gatewayUrl, LoginDocument, {
        input: { email: ` ${stored.toUpperCase()} `, password: account.password },
      });
      expect({ stored, user: login.data?.login.user.id }).toEqual({ stored, user: account.userId });
      // No mail can go there: a reset answers as always and mails nothing; asking for a confirmation link says why.
      expect((await gql(t.gatewayUrl, RequestPasswordResetDocument, { email: stored })).data).toEqual({
        requestPasswordReset: true,
      });
      expect(
        codes(await gql(t.gatewayUrl, ResendEmailVerificationDocument, {}, { token: login.data!.login.accessToken })),
      ).toEqual(['INVALID_EMAIL']);
      expect(mailsTo(t.config, stored)).toEqual([]);
    }
    // An internationalised domain, typed in Unicode, is kept in its xn-- form and found by either.
    const ida = (
      await gql(t.gatewayUrl, RegisterDocument, {
        input: { email: `Ida-${tag}@BÜCHER.test`, password: 'a long password', tenantName: 'IDN' },
      })
    ).data!.register;
    expect(ida.user.email).toBe(`ida-${tag}@xn--bcher-kva.test`);
    for (const typed of [`ida-${tag}@bücher.test`, `ida-${tag}@xn--bcher-kva.test`]) {
      expect(
        (await gql(t.gatewayUrl, LoginDocument, { input: { email: typed, password: 'a long password' } })).data!.login
          .user.id,
      ).toBe(ida.user.id);
    }
    expect(
      codes(
        await gql(t.gatewayUrl, RegisterDocument, {
          input: { email: `x-${tag}@b%C3%BCcher.test`, password: 'a long password' },
        }),
      ),
    ).toEqual(['INVALID_EMAIL']);
    // One stored with its domain as typed is converted to that form when migrating, and found the same way.
    const uwe = await signUp(t.gatewayUrl, 'IDN before');
    await sql(`UPDATE identity.users SET email = $2 WHERE id = $1`, [uwe.userId, `uwe-${tag}@bücher.test`]);
    await migrate(new IdentityAsciiDomains1765600100000());
    expect(
      (await gql(t.gatewayUrl, LoginDocument, { input: { email: `UWE-${tag}@Bücher.test`, password: uwe.password } }))
        .data!.login.user,
    ).toEqual({
      id: uwe.userId,
      email: `uwe-${tag}@xn--bcher-kva.test`,
    });
  });

  it('rejects weak passwords and malformed emails', async () => {
    const weak = await gql(t.gatewayUrl, RegisterDocument, { input: { email: uniqueEmail(), password: 'short' } });
    const bad = await gql(t.gatewayUrl, RegisterDocument, {
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
      const res = await gql(t.gatewayUrl, RegisterDocument, { input: { email: several, password: 'long enough pw' } });
      expect({ several, codes: codes(res) }).toEqual({ several, codes: ['INVALID_EMAIL'] });
    }
  });

  it('sends a message and reads it back with its author resolved by identity', async () => {
    const account = await signUp(t.gatewayUrl);
    const { roomId, messageId } = await createRoomWithMessage(t.gatewayUrl, account, 'hello\u0007 world');
    const one = await gql(t.gatewayUrl, MessageByIdDocument, { id: messageId }, { token: account.token });
    expect(one.data!.message).toEqual({ id: messageId, body: 'hello world', author: { email: account.email } });
    const history = await gql(t.gatewayUrl, MessagesDocument, { roomId }, { token: account.token });
    expect(history.data!.messages.edges.map((e) => e.node.author)).toEqual([
      { id: account.userId, email: account.email },
    ]);
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
    const empty = await gql(
      t.gatewayUrl,
      SendMessageDocument,
      { input: { roomId, body: ' \u0007 ' } },
      { token: account.token },
    );
    const huge = await gql(
      t.gatewayUrl,
      SendMessageDocument,
      { input: { roomId, body: 'x'.repeat(4001) } },
      { token: account.token },
    );
    expect(codes(empty)).toEqual(['INVALID_MESSAGE']);
    expect(codes(huge)).toEqual(['INVALID_MESSAGE']);
    const history = await gql(t.gatewayUrl, MessagesDocument, { roomId }, { token: account.token });
    expect(history.data!.messages.edges).toHaveLength(1);
  });

  it('serves every subgraph: products, hash-chained ledger entries and documents', async () => {
    const account = await signUp(t.gatewayUrl);
    const opts = { token: account.token };
    const product = await gql(
      t.gatewayUrl,
      CreateProductDocument,
      { input: { name: 'Pro plan', priceCents: 2900, currency: 'eur' } },
      opts,
    );
    expect(product.data!.createProduct).toMatchObject({ name: 'Pro plan', priceCents: 2900, currency: 'EUR' });
    expect((await gql(t.gatewayUrl, ProductsDocument, {}, opts)).data!.products).toHaveLength(1);
    const e1 = await gql(
      t.gatewayUrl,
      AppendLedgerEntryDocument,
      { input: { account: 'cash', amountCents: 100, memo: 'a' } },
      opts,
    );
    const e2 = await gql(
      t.gatewayUrl,
      AppendLedgerEntryDocument,
      { input: { account: 'cash', amountCents: -40 } },
      opts,
    );
    expect(e1.data!.appendLedgerEntry.sequence).toBe(1);
    expect(e2.data!.appendLedgerEntry).toMatchObject({ sequence: 2, prevHash: e1.data!.appendLedgerEntry.hash });
    const ledger = await gql(t.gatewayUrl, LedgerEntriesDocument, { first: 10 }, opts);
    expect(ledger.data!.verifyLedger).toBe(true);
    expect(ledger.data!.ledgerEntries.map((e) => e.amountCents)).toEqual([-40, 100]);
    const doc = await gql(
      t.gatewayUrl,
      CreateDocumentDocument,
      { input: { title: 'Handbook', content: 'Be kind.' } },
      opts,
    );
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
