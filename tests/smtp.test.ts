import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { RegisterDocument, RequestPasswordResetDocument, ResetPasswordDocument } from './generated/graphql';
import { uniqueEmail } from './support/fixtures';
import { startTestPlatform, type TestPlatform } from './support/platform';

/** A real SMTP server on loopback receives what the platform sends when SMTP_URL is set. */
interface Received {
  to: string[];
  raw: string;
}

let t: TestPlatform;
let smtp: SMTPServer;
const received: Received[] = [];

beforeAll(async () => {
  smtp = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((r) => r.address), raw });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = (smtp.server.address() as AddressInfo).port;
  t = await startTestPlatform(undefined, {
    SMTP_URL: `smtp://127.0.0.1:${port}`,
    MAIL_FROM: 'Nexus <no-reply@nexus.test>',
  });
});
afterAll(async () => {
  await t?.stop();
  await new Promise<void>((resolve) => smtp.close(resolve));
});

async function mailTo(address: string, subject: string, ms = 5000): Promise<Received> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = received.find((m) => m.to.includes(address) && m.raw.includes(`Subject: ${subject}`));
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no mail "${subject}" to ${address}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('mail over SMTP', () => {
  it('delivers the reset link through the configured SMTP server, and the link works', async () => {
    const email = uniqueEmail('smtp');
    const reg = await t.anonymous().gql(RegisterDocument, { input: { email, password: 'smtp pass phrase' } });
    expect(reg.errors).toBeUndefined();
    await t.anonymous().gql(RequestPasswordResetDocument, { email });
    const mail = await mailTo(email, 'Reset your password');
    expect(mail.raw).toMatch(/^From: Nexus <no-reply@nexus\.test>/m);
    // The body travels quoted-printable: undo soft line breaks and =XX escapes.
    const body = mail.raw
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    const token = /token=([A-Za-z0-9_-]+)/.exec(body)![1];
    const reset = await t.anonymous().gql(ResetPasswordDocument, {
      input: { token, newPassword: 'a new smtp phrase' },
    });
    expect(reset.data).toEqual({ resetPassword: true });
  });
});
