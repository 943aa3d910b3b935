import { z } from 'zod';

/**
 * The gateway's question to identity (`POST /internal/revoked-sessions`): which sessions were revoked in
 * the last `withinSeconds`. Revocations live in `identity.sessions`; gateways read them from there at
 * start and every few seconds, so one that was never announced (Redis down, gateway restarted) still
 * reaches every gateway.
 */
export const REVOKED_SESSIONS_CALL = 'revoked-sessions';

/** Longer than any access token lives (ACCESS_TOKEN_TTL_SECONDS is at most an hour) plus the overlap. */
const MAX_WITHIN_SECONDS = 2 * 3600;

export const revokedSessionsQuerySchema = z.object({ withinSeconds: z.number().int().min(1).max(MAX_WITHIN_SECONDS) });
export type RevokedSessionsQuery = z.infer<typeof revokedSessionsQuerySchema>;

export const revokedSessionsSchema = z.array(z.object({ sessionId: z.uuid(), revokedAt: z.iso.datetime({ offset: true }) }));
export type RevokedSessions = z.infer<typeof revokedSessionsSchema>;
