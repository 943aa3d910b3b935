import { MeVerifiedDocument, ResendEmailVerificationDocument, VerifyEmailDocument } from './generated/graphql';
import { codes } from './support/gql';
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
    const account = await t.signUp('Verify');
    const before = await account.gql(MeVerifiedDocument, {});
    expect(before.data!.me.emailVerified).toBe(false);
    const token = tokenFrom(await waitForMail(t.config, account.email, SUBJECTS.verification));
    expect((await t.anonymous().gql(VerifyEmailDocument, { token })).data).toEqual({ verifyEmail: true });
    const after = await account.gql(MeVerifiedDocument, {});
    expect(after.data!.me.emailVerified).toBe(true);
    expect(codes(await t.anonymous().gql(VerifyEmailDocument, { token }))).toEqual(['INVALID_TOKEN']);
    expect(codes(await account.gql(ResendEmailVerificationDocument, {}))).toEqual(['EMAIL_ALREADY_VERIFIED']);
  });

  it('sends a new link on request', async () => {
    const account = await t.signUp('Resend');
    expect((await account.gql(ResendEmailVerificationDocument, {})).data).toEqual({
      resendEmailVerification: true,
    });
    const second = tokenFrom(await waitForMail(t.config, account.email, SUBJECTS.verification, 2));
    expect((await t.anonymous().gql(VerifyEmailDocument, { token: second })).data).toEqual({ verifyEmail: true });
  });
});
