import {
  ChangePasswordDocument,
  LoginDocument,
  MeDocument,
  RegisterDocument,
  RequestPasswordResetDocument,
  ResetPasswordDocument,
} from './generated/graphql';
import { codes } from './support/gql';
import { uniqueEmail } from './support/fixtures';
import { mailsTo, tokenFrom, waitForMail, SUBJECTS } from './support/mailbox';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { sleep } from './support/ws';
import { readFileSync } from 'node:fs';
import { passwordHashingPid } from '../subgraphs/identity/passwords/password-hash';

let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(async () => {
  await t?.stop();
});

const login = (email: string, password: string) => t.anonymous().gql(LoginDocument, { input: { email, password } });

describe('password policy', () => {
  it('refuses short, overlong, common and email-like passwords at registration', async () => {
    const email = uniqueEmail('policy');
    for (const password of ['short', 'x'.repeat(129), 'Password123', 'qwertyuiop', email, email.split('@')[0]]) {
      const res = await t.anonymous().gql(RegisterDocument, { input: { email, password } });
      expect({ password, codes: codes(res) }).toEqual({ password, codes: ['WEAK_PASSWORD'] });
    }
    const ok = await t.anonymous().gql(RegisterDocument, {
      input: { email, password: 'a'.repeat(64) + ' long passphrase' },
    });
    expect(ok.errors).toBeUndefined();
  });
});

describe('password reset', () => {
  it('answers the same for known and unknown addresses and mails only the known one', async () => {
    const account = await t.signUp('Reset');
    const stranger = uniqueEmail('nobody');
    const known = await t.anonymous().gql(RequestPasswordResetDocument, { email: account.email });
    const unknown = await t.anonymous().gql(RequestPasswordResetDocument, { email: stranger });
    expect(known).toEqual(unknown);
    expect(known.data).toEqual({ requestPasswordReset: true });
    const mail = await waitForMail(t.config, account.email, SUBJECTS.reset);
    expect(mail.subject).toBe('Reset your password');
    await sleep(300);
    expect(mailsTo(t.config, stranger)).toEqual([]);
  });

  it('sets the new password once with the mailed token and signs out every session', async () => {
    const account = await t.signUp('Reset 2');
    await t.anonymous().gql(RequestPasswordResetDocument, { email: account.email });
    const token = tokenFrom(await waitForMail(t.config, account.email, SUBJECTS.reset));
    const weak = await t.anonymous().gql(ResetPasswordDocument, { input: { token, newPassword: 'password' } });
    expect(codes(weak)).toEqual(['WEAK_PASSWORD']);
    const done = await t.anonymous().gql(ResetPasswordDocument, {
      input: { token, newPassword: 'brand new secret phrase' },
    });
    expect(done.data).toEqual({ resetPassword: true });
    expect((await account.gql(MeDocument, {})).status).toBe(401);
    expect(codes(await login(account.email, account.password))).toEqual(['INVALID_CREDENTIALS']);
    expect((await login(account.email, 'brand new secret phrase')).errors).toBeUndefined();
    const again = await t.anonymous().gql(ResetPasswordDocument, {
      input: { token, newPassword: 'yet another secret phrase' },
    });
    expect(codes(again)).toEqual(['INVALID_TOKEN']);
    const forged = await t.anonymous().gql(ResetPasswordDocument, {
      input: { token: 'made-up', newPassword: 'yet another secret phrase' },
    });
    expect(codes(forged)).toEqual(['INVALID_TOKEN']);
  });
});

describe('password change', () => {
  it('requires the current password, refuses the last five, and signs out the other sessions', async () => {
    const account = await t.signUp('Change');
    const other = (await login(account.email, account.password)).data!.login.accessToken;
    const wrong = await account.gql(ChangePasswordDocument, {
      input: { currentPassword: 'not it at all', newPassword: 'fresh phrase one' },
    });
    expect(codes(wrong)).toEqual(['INVALID_CREDENTIALS']);
    const same = await account.gql(ChangePasswordDocument, {
      input: { currentPassword: account.password, newPassword: account.password },
    });
    expect(codes(same)).toEqual(['PASSWORD_REUSED']);
    let current = account.password;
    const used = [account.password];
    for (let i = 1; i <= 5; i++) {
      const next = `fresh phrase number ${i}`;
      const res = await account.gql(ChangePasswordDocument, { input: { currentPassword: current, newPassword: next } });
      expect(res.errors).toBeUndefined();
      current = next;
      used.push(next);
    }
    // The original is now six passwords back: allowed again; the last five are not.
    const recent = await account.gql(ChangePasswordDocument, {
      input: { currentPassword: current, newPassword: used[2] },
    });
    expect(codes(recent)).toEqual(['PASSWORD_REUSED']);
    const old = await account.gql(ChangePasswordDocument, {
      input: { currentPassword: current, newPassword: used[0] },
    });
    expect(old.errors).toBeUndefined();
    expect((await account.gql(MeDocument, {})).data!.me.id).toBe(account.userId);
    expect((await t.as(other).gql(MeDocument, {})).status).toBe(401);
  });
});

describe('password hashing process', () => {
  const niceOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[16]);

  it('runs at the lowest CPU priority and a crash of it costs no sign-in', async () => {
    const account = await t.signUp('Hashing');
    expect((await login(account.email, account.password)).errors).toBeUndefined();
    const first = passwordHashingPid()!;
    expect(first).toBeGreaterThan(0);
    expect(niceOf(first)).toBe(19);
    // Killed while sign-ins are waiting on it: they are hashed again by a new process.
    const attempts = Array.from({ length: 6 }, (_, i) =>
      login(account.email, i === 5 ? 'wrong password here' : account.password),
    );
    await sleep(60);
    process.kill(first, 'SIGKILL');
    const results = await Promise.all(attempts);
    expect(results.slice(0, 5).map((r) => r.errors)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(codes(results[5])).toEqual(['INVALID_CREDENTIALS']);
    expect(passwordHashingPid()).not.toBe(first);
  });
});
