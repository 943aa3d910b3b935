import { serviceUnavailable } from '../kernel/errors';
import { logger } from '../kernel/log';
import { REVOKED_SESSIONS_CALL, revokedSessionsSchema, type RevokedSessions } from '../kernel/session-revocations';
import type { InternalClient } from './internal-client';
import type { AccessGuard } from './subscriptions/sessions';

/**
 * Each look reaches this much further back than the previous one: revocations written with another
 * clock (identity's hosts and the database's may differ) or committed a little late are seen anyway.
 */
const OVERLAP_SECONDS = 60;

const log = logger('gateway.revocations');

/**
 * The gateway's list of revoked sessions, kept from the one durable record of them: `identity.sessions`.
 * At start it reads every session revoked within an access token's lifetime, then every `pollMs` those
 * revoked since its last look, through identity's signed internal call. Announcements on the pub/sub
 * (AccessGuard) only make a revocation apply sooner; when one is lost (Redis down, a gateway restarting)
 * the next look finds the revocation anyway, at most `pollMs` later.
 *
 * Fails closed: when the list could not be brought up to date for `staleAfterMs` (identity unreachable),
 * requests made with a session are refused with 503 until it can.
 */
export class RevocationFeed {
  private timer?: NodeJS.Timeout;
  private lastLookAt = 0;
  private looking: Promise<void> | null = null;
  private readonly staleAfterMs: number;

  constructor(
    private readonly identity: InternalClient,
    private readonly guard: AccessGuard,
    private readonly accessTokenTtlMs: number,
    private readonly pollMs: number,
  ) {
    this.staleAfterMs = Math.max(10_000, 5 * pollMs);
  }

  /** First look (identity may not be up yet: then sessions get 503 until it is), then one every `pollMs`. */
  async start(): Promise<void> {
    await this.lookNow().catch(() => log.warn('revoked sessions not read yet: requests with a session are refused until identity answers'));
    this.timer = setInterval(() => void this.lookNow().catch(() => undefined), this.pollMs);
    this.timer.unref();
  }

  /** Resolves when the list is recent enough to trust (looking now if not); throws 503 when it cannot be. */
  async ensureCurrent(): Promise<void> {
    if (Date.now() - this.lastLookAt <= this.staleAfterMs) return;
    await this.lookNow();
  }

  /** One look at a time; callers arriving meanwhile share it. */
  private lookNow(): Promise<void> {
    this.looking ??= this.look().finally(() => {
      this.looking = null;
    });
    return this.looking;
  }

  private async look(): Promise<void> {
    const startedAt = Date.now();
    const fullWindow = Math.ceil(this.accessTokenTtlMs / 1000) + OVERLAP_SECONDS;
    const sinceLast = this.lastLookAt === 0 ? fullWindow : Math.ceil((startedAt - this.lastLookAt) / 1000) + OVERLAP_SECONDS;
    const answer = await this.identity.call<RevokedSessions>(REVOKED_SESSIONS_CALL, { withinSeconds: Math.min(fullWindow, sinceLast) });
    const parsed = revokedSessionsSchema.safeParse(answer);
    if (!parsed.success) {
      log.error({ issues: parsed.error.issues.slice(0, 3) }, 'identity answered the revoked sessions call with something else');
      throw serviceUnavailable('Session checks are unavailable right now; try again shortly');
    }
    for (const { sessionId } of parsed.data) this.guard.noteRevoked(sessionId);
    this.lastLookAt = startedAt;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
