import { z } from 'zod';

/**
 * The gateway's question to identity (`POST /internal/revocations`): which sessions and API keys were
 * revoked since its last look. Revocations live in `identity.sessions` and `identity.api_keys`; gateways
 * read them from there at start and every few seconds, so one that was never announced (Redis down,
 * gateway restarted) still reaches every gateway.
 *
 * Identity's clock alone measures time here: each answer carries identity's database time (`now`), which
 * the gateway hands back as `since` next time. Identity then answers what was revoked after
 * `since − REVOCATION_OVERLAP_SECONDS` (revocations stamped by another clock, or committed a little late,
 * are seen anyway), and never more than an access token's lifetime back (a first look, or a gateway that
 * could not look for that long). Long answers come in pages, continued after the last row (`after`).
 */
export const REVOCATIONS_CALL = 'revocations';

/** How far before the previous look's `now` each look reaches back. */
export const REVOCATION_OVERLAP_SECONDS = 60;

/** Rows per page unless the gateway asks for fewer. */
export const REVOCATIONS_PAGE_SIZE = 2_000;

/** A point in identity's database time, to the microsecond (ISO 8601, UTC). */
const instant = z.iso.datetime({ offset: true });

export const revocationsQuerySchema = z.object({
  since: instant.nullable(),
  after: z.object({ at: instant, id: z.uuid() }).nullable().optional(),
  limit: z.number().int().min(1).max(REVOCATIONS_PAGE_SIZE).optional(),
});
export type RevocationsQuery = z.infer<typeof revocationsQuerySchema>;

/** One revocation: a session (its access tokens are refused) or an API key (named by its public prefix). */
export const revocationSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('session'), id: z.uuid(), revokedAt: instant }),
  z.object({ kind: z.literal('api_key'), id: z.uuid(), prefix: z.string().min(1).max(64), revokedAt: instant }),
]);
export type Revocation = z.infer<typeof revocationSchema>;

/** One page. Rows are checked one by one by the gateway (one bad row must not hide the others). */
export const revocationsPageSchema = z.object({
  now: instant,
  revoked: z.array(z.unknown()),
  next: z.object({ at: instant, id: z.uuid() }).nullable(),
});
export type RevocationsPage = z.infer<typeof revocationsPageSchema>;
