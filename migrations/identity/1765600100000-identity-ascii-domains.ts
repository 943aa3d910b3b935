import { domainToASCII } from 'node:url';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Addresses stored before every address was checked may hold an internationalised domain as typed (`ida@bücher.de`);
 * addresses are now taken and stored with the domain in its xn-- form, so such accounts are converted to it (unless
 * another account already holds the converted address), with their pending confirmation links. Others the earlier
 * rule let in (a non-ASCII local part, `_` in a domain, a trailing dot) stay as they are: sign-in and reset still find
 * them as stored. Running it again changes nothing.
 */
export class IdentityAsciiDomains1765600100000 implements MigrationInterface {
  name = 'IdentityAsciiDomains1765600100000';

  async up(q: QueryRunner): Promise<void> {
    const rows: { id: string; email: string | null; registered_email: string | null }[] = await q.query(
      `SELECT id, email, registered_email FROM identity.users
        WHERE octet_length(email) <> char_length(email) OR octet_length(registered_email) <> char_length(registered_email)`,
    );
    for (const row of rows) {
      const email = asciiDomainOf(row.email);
      if (email) {
        await q.query(
          `UPDATE identity.users SET email = $2 WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM identity.users o WHERE o.email = $2)`,
          [row.id, email],
        );
        await q.query(`UPDATE identity.email_verifications SET email = $3 WHERE user_id = $1 AND email = $2`, [
          row.id,
          row.email,
          email,
        ]);
      }
      const registered = asciiDomainOf(row.registered_email);
      if (registered)
        await q.query(`UPDATE identity.users SET registered_email = $2 WHERE id = $1`, [row.id, registered]);
    }
  }

  async down(): Promise<void> {
    // The converted forms are the same addresses: nothing to undo.
  }
}

/** The address with its domain in xn-- form, when that differs from the stored one (null otherwise). */
function asciiDomainOf(address: string | null): string | null {
  const at = address?.lastIndexOf('@') ?? -1;
  if (!address || at < 1) return null;
  const domain = address.slice(at + 1);
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(domain) || domain.includes('%')) return null;
  const ascii = domainToASCII(domain);
  return ascii && ascii !== domain ? `${address.slice(0, at)}@${ascii}` : null;
}
