import { randomBytes } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withNoTenant, withUser } from '../../../kernel/db/tenant-scope';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { IdentityErrorCode, identityError } from '../identity.errors';
import { enqueueMail } from '../mail/mail-queue';
import { sha256 } from '../sessions/session.service';
import { returningRows } from '../../../kernel/db/values';
import { announceAccountChanged } from '../policy/security-policy.service';
import { mailable } from '../users/email';

const TTL_HOURS = 48;

/** Proves an account owns its address: a one-time link by mail. */
export class EmailVerificationService {
  constructor(private readonly deps: SubgraphDeps) {}

  /** Queues a verification mail in the caller's transaction (app.user_id must be the account). */
  async send(em: EntityManager, userId: string, email: string): Promise<void> {
    const token = randomBytes(32).toString('base64url');
    const link = new URL('/verify-email', this.deps.config.mail.APP_URL);
    link.searchParams.set('token', token);
    await em.query(
      `INSERT INTO identity.email_verifications (token_hash, user_id, email, expires_at) VALUES ($1, $2, $3, now() + make_interval(hours => $4))`,
      [sha256(token), userId, email, TTL_HOURS],
    );
    await enqueueMail(em, {
      to: email,
      subject: 'Confirm your e-mail address',
      text: `Please confirm this address for your Nexus Platform account:\n${link}\n\nThe link works once, for ${TTL_HOURS} hours.\n`,
    });
  }

  async resend(ctx: RequestContext): Promise<boolean> {
    const userId = ctx.userId!;
    await withUser(this.deps.ds, userId, async (em) => {
      const [user]: { email: string | null; email_verified_at: Date | null }[] = await em.query(
        `SELECT email, email_verified_at FROM identity.users WHERE id = $1`,
        [userId],
      );
      if (user.email_verified_at) throw identityError(IdentityErrorCode.EMAIL_ALREADY_VERIFIED);
      // An account whose registration named an address another account holds can never confirm it: nothing is
      // sent (the address's owner was told when it registered), and the answer is the same.
      if (user.email === null) return;
      if (!mailable(user.email)) {
        throw identityError(
          IdentityErrorCode.INVALID_EMAIL,
          'This account keeps an address from before addresses were checked as they are now; no mail can be sent to it',
        );
      }
      await this.send(em, userId, user.email);
    });
    return true;
  }

  async verify(token: string): Promise<boolean> {
    const hash = sha256(typeof token === 'string' ? token : '');
    const rows: { user_id: string | null }[] = await withNoTenant(this.deps.ds, (em) =>
      em.query('SELECT identity.email_verification_user($1) AS user_id', [hash]),
    );
    const userId = rows[0]?.user_id;
    if (!userId) throw identityError(IdentityErrorCode.INVALID_TOKEN);
    await withUser(this.deps.ds, userId, async (em) => {
      const used = await em.query(
        `UPDATE identity.email_verifications SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL RETURNING email`,
        [hash],
      );
      const email = returningRows<{ email: string }>(used)[0]?.email;
      if (!email) throw identityError(IdentityErrorCode.INVALID_TOKEN);
      // Only the address the link was sent to: a later change of address needs its own link.
      await em.query(`UPDATE identity.users SET email_verified_at = now() WHERE id = $1 AND email = $2`, [
        userId,
        email,
      ]);
    });
    await announceAccountChanged(this.deps, userId);
    return true;
  }
}
