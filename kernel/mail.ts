import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';

/** An e-mail as the platform sends it (plain text). */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  /** Display name instead of the platform's (e.g. a tenant's e-mail sender name); the address stays MAIL_FROM's. */
  fromName?: string | null;
}

/** MAIL_FROM's address (`Name <address>` or a bare address). */
function addressOf(from: string): string {
  return /<([^>]+)>/.exec(from)?.[1] ?? from.trim();
}

/** A display name safe in a header: no line breaks, quotes or angle brackets. */
function cleanName(name: string): string {
  return name
    .replace(/[\r\n"<>]/g, ' ')
    .trim()
    .slice(0, 100);
}

/** Where mail goes: SMTP when configured, otherwise a local mailbox folder a developer (and tests) can read. */
export interface MailTransport {
  send(message: MailMessage): Promise<void>;
}

export interface StoredMail extends MailMessage {
  from: string;
  sentAt: string;
}

export class MailboxTransport implements MailTransport {
  constructor(
    readonly dir: string,
    private readonly from: string,
  ) {}

  async send(message: MailMessage): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const { fromName, ...rest } = message;
    const from = fromName ? `"${cleanName(fromName)}" <${addressOf(this.from)}>` : this.from;
    const mail: StoredMail = { ...rest, from, sentAt: new Date().toISOString() };
    writeFileSync(join(this.dir, `${Date.now()}-${randomUUID().slice(0, 8)}.json`), JSON.stringify(mail, null, 2), {
      mode: 0o600,
    });
  }
}

export class SmtpTransport implements MailTransport {
  private readonly transporter: nodemailer.Transporter;

  constructor(
    url: string,
    private readonly from: string,
  ) {
    this.transporter = nodemailer.createTransport(url);
  }

  async send(message: MailMessage): Promise<void> {
    const from = message.fromName ? { name: cleanName(message.fromName), address: addressOf(this.from) } : this.from;
    await this.transporter.sendMail({ from, to: message.to, subject: message.subject, text: message.text });
  }
}

export function mailboxDir(dataDir: string): string {
  return join(dataDir, 'mailbox');
}

export function createMailTransport(options: { smtpUrl?: string; from: string; dataDir: string }): MailTransport {
  return options.smtpUrl
    ? new SmtpTransport(options.smtpUrl, options.from)
    : new MailboxTransport(mailboxDir(options.dataDir), options.from);
}

/** Mails in a local mailbox, oldest first, optionally only those to one address. */
export function readMailbox(dir: string, to?: string): StoredMail[] {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
  } catch {
    return [];
  }
  const mails = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as StoredMail);
  return to ? mails.filter((m) => m.to.toLowerCase() === to.toLowerCase()) : mails;
}
