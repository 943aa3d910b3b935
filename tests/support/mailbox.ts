import { mailboxDir, readMailbox, type StoredMail } from '../../kernel/mail';
import type { Config } from '../../kernel/config';

/** Waits for the n-th mail to an address (with that subject) in the platform's local mailbox. */
export async function waitForMail(
  config: Config,
  to: string,
  subject: string,
  count = 1,
  ms = 5000,
): Promise<StoredMail> {
  const deadline = Date.now() + ms;
  for (;;) {
    const mails = readMailbox(mailboxDir(config.database.NEXUS_DATA_DIR), to).filter((m) => m.subject === subject);
    if (mails.length >= count) return mails[count - 1];
    if (Date.now() > deadline) throw new Error(`no mail #${count} to ${to}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function mailsTo(config: Config, to: string): StoredMail[] {
  return readMailbox(mailboxDir(config.database.NEXUS_DATA_DIR), to);
}

export const SUBJECTS = {
  reset: 'Reset your password',
  invitation: 'You are invited to Nexus Platform',
  verification: 'Confirm your e-mail address',
  registeredAgain: 'Someone signed up with your e-mail address',
};

export function tokenFrom(mail: StoredMail): string {
  const match = /token=([A-Za-z0-9_-]+)/.exec(mail.text);
  if (!match) throw new Error(`no token in: ${mail.text}`);
  return match[1];
}
