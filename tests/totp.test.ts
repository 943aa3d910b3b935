import {
  ConfirmTotpDocument,
  DisableTotpDocument,
  EnrollTotpDocument,
  LoginDocument,
  VerifyLoginChallengeDocument,
} from './generated/graphql';
import { codes, gql } from './support/gql';
import { signUp, totpCodeAt, type Account } from './support/fixtures';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(async () => {
  await t?.stop();
});

async function loginChallenge(account: Account): Promise<string> {
  const res = await gql(t.gatewayUrl, LoginDocument, { input: { email: account.email, password: account.password } });
  expect(codes(res)).toEqual(['TWO_FACTOR_REQUIRED']);
  expect(res.data).toBeNull();
  return res.errors![0].extensions!.challengeToken as string;
}

async function enable(account: Account): Promise<{ secret: string; backupCodes: string[]; confirmCode: string }> {
  const enrollment = await gql(t.gatewayUrl, EnrollTotpDocument, {}, { token: account.token });
  const { secret, otpauthUri } = enrollment.data!.enrollTotp;
  expect(otpauthUri).toMatch(/^otpauth:\/\/totp\/Nexus%20Platform:.*secret=/);
  const wrong = await gql(
    t.gatewayUrl,
    ConfirmTotpDocument,
    { code: '000000' === totpCodeAt(secret) ? '111111' : '000000' },
    { token: account.token },
  );
  expect(codes(wrong)).toEqual(['INVALID_TOTP_CODE']);
  const confirmCode = totpCodeAt(secret);
  const confirmed = await gql(t.gatewayUrl, ConfirmTotpDocument, { code: confirmCode }, { token: account.token });
  return { secret, backupCodes: confirmed.data!.confirmTotp.backupCodes, confirmCode };
}

describe('TOTP two-factor sign-in', () => {
  it('turns on with a confirmed code and then signs in in two steps; a code works once', async () => {
    const account = await signUp(t.gatewayUrl, 'Two Factor');
    const { secret, backupCodes, confirmCode } = await enable(account);
    expect(backupCodes).toHaveLength(10);
    const challenge = await loginChallenge(account);
    // The code used to confirm is spent: the same time step cannot sign in.
    const replay = await gql(t.gatewayUrl, VerifyLoginChallengeDocument, {
      input: { challengeToken: challenge, code: confirmCode },
    });
    expect(codes(replay)).toEqual(['INVALID_TOTP_CODE']);
    const next = totpCodeAt(secret, 1);
    const ok = await gql(t.gatewayUrl, VerifyLoginChallengeDocument, {
      input: { challengeToken: challenge, code: next },
    });
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.verifyLoginChallenge).toMatchObject({
      user: { id: account.userId },
      tenant: { name: 'Two Factor' },
    });
    const challenge2 = await loginChallenge(account);
    const again = await gql(t.gatewayUrl, VerifyLoginChallengeDocument, {
      input: { challengeToken: challenge2, code: next },
    });
    expect(codes(again)).toEqual(['INVALID_TOTP_CODE']);
    const used = await gql(t.gatewayUrl, VerifyLoginChallengeDocument, {
      input: { challengeToken: challenge, code: totpCodeAt(secret, 1) },
    });
    expect(codes(used)).toEqual(['INVALID_TOKEN']);
  });

  it('accepts each backup code once', async () => {
    const account = await signUp(t.gatewayUrl, 'Backup');
    const { backupCodes } = await enable(account);
    const first = await gql(t.gatewayUrl, VerifyLoginChallengeDocument, {
      input: { challengeToken: await loginChallenge(account), code: backupCodes[3] },
    });
    expect(first.errors).toBeUndefined();
    const second = await gql(t.gatewayUrl, VerifyLoginChallengeDocument, {
      input: { challengeToken: await loginChallenge(account), code: backupCodes[3] },
    });
    expect(codes(second)).toEqual(['INVALID_TOTP_CODE']);
  });

  it('burns a challenge after five wrong codes', async () => {
    const account = await signUp(t.gatewayUrl, 'Guessing');
    const { secret } = await enable(account);
    const challenge = await loginChallenge(account);
    for (let i = 0; i < 5; i++) {
      const guess = await gql(t.gatewayUrl, VerifyLoginChallengeDocument, {
        input: { challengeToken: challenge, code: String(100000 + i) },
      });
      expect(codes(guess)).toEqual(['INVALID_TOTP_CODE']);
    }
    const real = await gql(t.gatewayUrl, VerifyLoginChallengeDocument, {
      input: { challengeToken: challenge, code: totpCodeAt(secret, 1) },
    });
    expect(codes(real)).toEqual(['INVALID_TOKEN']);
  });

  it('turns off only with the password and a code', async () => {
    const account = await signUp(t.gatewayUrl, 'Turning off');
    const { backupCodes } = await enable(account);
    const noPassword = await gql(
      t.gatewayUrl,
      DisableTotpDocument,
      { input: { password: 'wrong password', code: backupCodes[0] } },
      { token: account.token },
    );
    expect(codes(noPassword)).toEqual(['INVALID_CREDENTIALS']);
    const off = await gql(
      t.gatewayUrl,
      DisableTotpDocument,
      { input: { password: account.password, code: backupCodes[1] } },
      { token: account.token },
    );
    expect(off.data).toEqual({ disableTotp: true });
    const plain = await gql(t.gatewayUrl, LoginDocument, {
      input: { email: account.email, password: account.password },
    });
    expect(plain.errors).toBeUndefined();
  });
});
