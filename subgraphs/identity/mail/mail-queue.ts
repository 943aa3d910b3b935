import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { withSystem } from '../../../kernel/db/tenant-scope';
import { logger } from '../../../kernel/log';
import type { MailMessage, MailTransport } from '../../../kernel/mail';
import { returningRows } from '../../../kernel/db/values';
import { mailable } from '../users/email';

const MAX_ATTEMPTS = 10;
const log = logger('identity.mail');

/**
 * Queues a mail in the caller's transaction: it is sent if and only if the change commits. It goes to exactly one
 * mailbox: a recipient that is not one valid address (a list, a display name, or an address an account kept from
 * before every address was checked) is refused — logged, never handed to a mailer, and not the caller's failure.
 * Whether it was queued.
 */
export async function enqueueMail(em: EntityManager, message: MailMessage): Promise<boolean> {
  if (!mailable(message.to)) {
    log.warn({ subject: message.subject }, 'mail not queued: the recipient is not exactly one valid address');
    return false;
  }
  await em.query(
    `INSERT INTO identity.mail_queue (id, recipient, subject, body, sender_name) VALUES ($1, $2, $3, $4, $5)`,
    [randomUUID(), message.to, message.subject, message.text, message.fromName ?? null],
  );
  return true;
}

interface QueuedMail {
  id: string;
  recipient: string;
  subject: string;
  body: string;
  sender_name: string | null;
  attempts: number;
}

/**
 * Sends queued mail and deletes it once sent (secrets in mails do not linger). Failures are retried
 * with backoff; after 10 attempts the row stays, marked failed, and the error is logged.
 */
export class MailWorker {
  private timer?: NodeJS.Timeout;
  private running: Promise<void> | null = null;

  constructor(
    private readonly ds: DataSource,
    private readonly transport: MailTransport,
    private readonly intervalMs = 500,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  flush(): Promise<void> {
    this.running ??= this.pass()
      .catch((err) => log.error({ err }, 'mail worker failed'))
      .finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<void> {
    const due: QueuedMail[] = await withSystem(
      this.ds,
      'mail queue',
      async (em) => {
        const rows = await em.query(
          `UPDATE identity.mail_queue SET attempts = attempts + 1, next_attempt_at = now() + interval '60 seconds'
            WHERE id IN (SELECT id FROM identity.mail_queue WHERE failed_at IS NULL AND next_attempt_at <= now()
                         ORDER BY created_at LIMIT 20 FOR UPDATE SKIP LOCKED)
            RETURNING id, recipient, subject, body, sender_name, attempts`,
        );
        return returningRows<QueuedMail>(rows);
      },
      'debug',
    );
    for (const mail of due) {
      try {
        await this.transport.send({
          to: mail.recipient,
          subject: mail.subject,
          text: mail.body,
          fromName: mail.sender_name,
        });
        await withSystem(
          this.ds,
          'mail sent',
          (em) => em.query(`DELETE FROM identity.mail_queue WHERE id = $1`, [mail.id]),
          'debug',
        );
      } catch (err) {
        const failed = mail.attempts >= MAX_ATTEMPTS;
        log[failed ? 'error' : 'warn'](
          { err, mailId: mail.id, attempts: mail.attempts },
          failed ? 'mail given up' : 'mail send failed; will retry',
        );
        await withSystem(
          this.ds,
          'mail retry',
          (em) =>
            em.query(
              `UPDATE identity.mail_queue SET last_error = $2, failed_at = CASE WHEN $3 THEN now() END,
                      next_attempt_at = now() + make_interval(secs => least(600, power(2, attempts)::int)) WHERE id = $1`,
              [mail.id, String((err as Error)?.message ?? err).slice(0, 500), failed],
            ),
          'debug',
        );
      }
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}
