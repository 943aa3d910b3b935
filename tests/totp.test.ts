import {
  ConfirmTotpDocument,
  DisableTotpDocument,
  EnrollTotpDocument,
  LoginDocument,
  VerifyLoginChallengeDocument,
} from './generated/graphql';
import { codes } from './support/gql';
import { totpCodeAt } from './support/fixtures';
import type { User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(async () => {
  await t?.stop();
});

async function loginChallenge(account: User): Promise<string> {
  const res = await t.anonymous().gql(LoginDocument, { input: { email: account.email, password: account.password } });
  expect(codes(res)).toEqual(['TWO_FACTOR_REQUIRED']);
  expect(res.data).toBeNull();
  return res.errors![0].extensions!.challengeToken as string;
}

async function enable(account: User): Promise<{ secret: string; backupCodes: string[]; confirmCode: string }> {
  const enrollment = await account.gql(EnrollTotpDocument, {});
  const { secret, otpauthUri } = enrollment.data!.enrollTotp;
  expect(otpauthUri).toMatch(/^otpauth:\/\/totp\/Nexus%20Platform:.*secret=/);
  const wrong = await account.gql(ConfirmTotpDocument, { code: '000000' === totpCodeAt(secret) ? '111111' : '000000' });
  expect(codes(wrong)).toEqual(['INVALID_TOTP_CODE']);
  const confirmCode = totpCodeAt(secret);
  const confirmed = await account.gql(ConfirmTotpDocument, { code: confirmCode });
  return { secret, backupCodes: confirmed.data!.confirmTotp.backupCodes, confirmCode };
}

describe('TOTP two-factor sign-in', () => {
  it('turns on with a confirmed code and then signs in in two steps; a code works once', async () => {
    const account = await t.signUp('Two Factor');
    const { secret, backupCodes, confirmCode } = await enable(account);
    expect(backupCodes).toHaveLength(10);
    const challenge = await loginChallenge(account);
    // The code used to confirm is spent: the same time step cannot sign in.
    const replay = await t.anonymous().gql(VerifyLoginChallengeDocument, {
      input: { challengeToken: challenge, code: confirmCode },
    });
    expect(codes(replay)).toEqual(['INVALID_TOTP_CODE']);
    const next = totpCodeAt(secret, 1);
    const ok = await t.anonymous().gql(VerifyLoginChallengeDocument, {
      input: { challengeToken: challenge, code: next },
    });
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.verifyLoginChallenge).toMatchObject({
      user: { id: account.userId },
      tenant: { name: 'Two Factor' },
    });
    const challenge2 = await loginChallenge(account);
    const again = await t.anonymous().gql(VerifyLoginChallengeDocument, {
      input: { challengeToken: challenge2, code: next },
    });
    expect(codes(again)).toEqual(['INVALID_TOTP_CODE']);
    const used = await t.anonymous().gql(VerifyLoginChallengeDocument, {
      input: { challengeToken: challenge, code: totpCodeAt(secret, 1) },
    });
    expect(codes(used)).toEqual(['INVALID_TOKEN']);
  });

  it('accepts each backup code once', async () => {
    const account = await t.signUp('Backup');
    const { backupCodes } = await enable(account);
    const first = await t.anonymous().gql(VerifyLoginChallengeDocument, {
      input: { challengeToken: await loginChallenge(account), code: backupCodes[3] },
    });
    expect(first.errors).toBeUndefined();
    const second = await t.anonymous().gql(VerifyLoginChallengeDocument, {
      input: { challengeToken: await loginChallenge(account), code: backupCodes[3] },
    });
    expect(codes(second)).toEqual(['INVALID_TOTP_CODE']);
  });

  it('burns a challenge after five wrong codes', async () => {
    const account = await t.signUp('Guessing');
    const { secret } = await enable(account);
    const challenge = await loginChallenge(account);
    for (let i = 0; i < 5; i++) {
      const guess = await t.anonymous().gql(VerifyLoginChallengeDocument, {
        input: { challengeToken: challenge, code: String(100000 + i) },
      });
      expect(codes(guess)).toEqual(['INVALID_TOTP_CODE']);
    }
    const real = await t.anonymous().gql(VerifyLoginChallengeDocument, {
      input: { challengeToken: challenge, code: totpCodeAt(secret, 1) },
    });
    expect(codes(real)).toEqual(['INVALID_TOKEN']);
  });

  it('turns off only with the password and a code', async () => {
    const account = await t.signUp('Turning off');
    const { backupCodes } = await enable(account);
    const noPassword = await account.gql(DisableTotpDocument, {
      input: { password: 'wrong password', code: backupCodes[0] },
    });
    expect(codes(noPassword)).toEqual(['INVALID_CREDENTIALS']);
    const off = await account.gql(DisableTotpDocument, { input: { password: account.password, code: backupCodes[1] } });
    expect(off.data).toEqual({ disableTotp: true });
    const plain = await t.anonymous().gql(LoginDocument, {
      input: { email: account.email, password: account.password },
    });
    expect(plain.errors).toBeUndefined();
  });
});
