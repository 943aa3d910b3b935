import { MeVerifiedDocument, ResendEmailVerificationDocument, VerifyEmailDocument } from './generated/graphql';
import { codes, gql } from './support/gql';
import { signUp } from './support/fixtures';
import { SUBJECTS, tokenFrom, waitForMail } from './support/mailbox';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(async () => {
  await t?.stop();
});

describe('e-mail verification', () => {
  it('mails a link at registration that confirms the address once', async () => {
    const account = await signUp(t.gatewayUrl, 'Verify');
    const before = await gql(t.gatewayUrl, MeVerifiedDocument, {}, { token: account.token });
    expect(before.data!.me.emailVerified).toBe(false);
    const token = tokenFrom(await waitForMail(t.config, account.email, SUBJECTS.verification));
    expect((await gql(t.gatewayUrl, VerifyEmailDocument, { token })).data).toEqual({ verifyEmail: true });
    const after = await gql(t.gatewayUrl, MeVerifiedDocument, {}, { token: account.token });
    expect(after.data!.me.emailVerified).toBe(true);
    expect(codes(await gql(t.gatewayUrl, VerifyEmailDocument, { token }))).toEqual(['INVALID_TOKEN']);
    expect(codes(await gql(t.gatewayUrl, ResendEmailVerificationDocument, {}, { token: account.token }))).toEqual([
      'EMAIL_ALREADY_VERIFIED',
    ]);
  });

  it('sends a new link on request', async () => {
    const account = await signUp(t.gatewayUrl, 'Resend');
    expect((await gql(t.gatewayUrl, ResendEmailVerificationDocument, {}, { token: account.token })).data).toEqual({
      resendEmailVerification: true,
    });
    const second = tokenFrom(await waitForMail(t.config, account.email, SUBJECTS.verification, 2));
    expect((await gql(t.gatewayUrl, VerifyEmailDocument, { token: second })).data).toEqual({ verifyEmail: true });
  });
});
