import { performance } from 'node:perf_hooks';
import { logger } from '../kernel/log';
import type { PubSub } from '../kernel/pubsub';
import {
  REVOCATION_OVERLAP_SECONDS,
  REVOCATIONS_CALL,
  revocationSchema,
  type RevocationsQuery,
} from '../kernel/session-revocations';
import { InternalCallError, type InternalClient } from './internal-client';
import type { AccessGuard } from './subscriptions/sessions';

const log = logger('gateway.revocations');

export interface RevocationFeedOptions {
  /** How often the list is read. */
  pollMs: number;
  /** How long an access token lives: revoked API keys are remembered as long (a key is never reused). */
  accessTokenTtlMs: number;
  /**
   * Whether identity's announcements reach this gateway's pub/sub: identity in the same process, or Redis
   * (REDIS_URL) between processes. Only then may the list be trusted while identity cannot be read.
   */
  announced: boolean;
  /** How long trusted announcements stand in for the list (the lifetime of cached rights, 60 s). */
  trustAnnouncementsMs: number;
  /** Rows asked per page (identity answers at most REVOCATIONS_PAGE_SIZE). */
  pageSize?: number;
  /** API keys revoked: forgotten by the key cache. */
  onApiKeyRevoked: (prefix: string) => void;
}

/**
 * The gateway's list of revoked sessions and API keys, kept from the one durable record of them: identity's
 * tables. At start it reads every revocation within an access token's lifetime, then every `pollMs` those
 * made since its last look (identity's clock alone says what "since" means: see kernel/session-revocations.ts).
 * Announcements on the pub/sub (AccessGuard, ApiKeyAuthenticator) only make a revocation apply sooner; when
 * one is lost (Redis down, a gateway restarting) the next look finds the revocation anyway.
 *
 * Fails closed: when the list could not be brought up to date for `staleAfterMs` (identity unreachable),
 * requests made with a session are refused with 503 until it can — unless announcements were certainly
 * not lost meanwhile (identity in this process; or Redis, with no interruption of this gateway's reception
 * since the last good look): then the list is trusted for `trustAnnouncementsMs`, as long as cached rights.
 * Ages are measured on the monotonic clock: stepping the wall clock changes nothing.
 */
export class RevocationFeed {
  private timer?: NodeJS.Timeout;
  /** performance.now() when the last complete look started; null before the first. */
  private lastLookAt: number | null = null;
  /** The pub/sub's reception mark when the last complete look started. */
  private receptionAtLook: number | null = null;
  /** Identity's time at the last complete look: the next look asks for what came after. */
  private cursor: string | null = null;
  private looking: Promise<void> | null = null;
  /** Revoked API keys already acted on (id → performance.now() until which it is remembered). */
  private readonly knownKeys = new Map<string, number>();
  readonly staleAfterMs: number;

  constructor(
    private readonly identity: InternalClient<'identity'>,
    private readonly guard: AccessGuard,
    private readonly pubsub: PubSub,
    private readonly options: RevocationFeedOptions,
  ) {
    this.staleAfterMs = Math.max(10_000, 5 * options.pollMs);
  }

  /** First look (identity may not be up yet: then sessions get 503 until it is), then one every `pollMs`. */
  async start(): Promise<void> {
    await this.lookNow().catch(() =>
      log.warn('revocations not read yet: requests with a session are refused until identity answers'),
    );
    this.timer = setInterval(() => void this.lookNow().catch(() => undefined), this.options.pollMs);
    this.timer.unref();
  }

  /** Milliseconds since the last complete look started (null: none yet). */
  age(): number | null {
    return this.lastLookAt === null ? null : performance.now() - this.lastLookAt;
  }

  /** Whether the list may be relied on now without looking (see the class comment). */
  current(): boolean {
    const age = this.age();
    if (age === null) return false;
    if (age <= this.staleAfterMs) return true;
    if (age > this.options.trustAnnouncementsMs || !this.options.announced) return false;
    const mark = this.pubsub.receptionMark();
    return mark !== null && mark === this.receptionAtLook;
  }

  /** Resolves when the list can be relied on (looking now if not); throws 503 when it cannot be. */
  async ensureCurrent(): Promise<void> {
    if (this.current()) return;
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
    const startedAt = performance.now();
    const reception = this.pubsub.receptionMark();
    let cursor: string | null = null;
    let after: RevocationsQuery['after'] = null;
    // Page after page, each applied as it comes (a mass revocation never makes one long call).
    for (;;) {
      const query: RevocationsQuery = {
        since: this.cursor,
        after,
        ...(this.options.pageSize ? { limit: this.options.pageSize } : {}),
      };
      // The client checked the page against the call's contract (each row is checked in `apply`).
      const { now, revoked, next } = await this.identity.call(REVOCATIONS_CALL, query);
      cursor ??= now;
      this.apply(revoked);
      if (!next) break;
      if (after && next.at === after.at && next.id === after.id)
        throw new InternalCallError('identity repeated a page of revocations');
      after = next;
    }
    this.cursor = cursor;
    this.lastLookAt = startedAt;
    this.receptionAtLook = reception;
  }

  /** Each row on its own: one that does not fit is logged and left out, the others still count. */
  private apply(rows: readonly unknown[]): void {
    const sessions: { sessionId: string; revokedAt: number }[] = [];
    let bad = 0;
    const now = performance.now();
    for (const [at, until] of this.knownKeys) if (until < now) this.knownKeys.delete(at);
    for (const row of rows) {
      const parsed = revocationSchema.safeParse(row);
      if (!parsed.success) {
        if (bad++ === 0)
          log.error(
            { issues: parsed.error.issues.slice(0, 3) },
            'identity listed a revocation the gateway cannot read; left out',
          );
        continue;
      }
      const r = parsed.data;
      if (r.kind === 'session') sessions.push({ sessionId: r.id, revokedAt: Date.parse(r.revokedAt) });
      else if (!this.knownKeys.has(r.id)) {
        this.knownKeys.set(r.id, now + this.options.accessTokenTtlMs + REVOCATION_OVERLAP_SECONDS * 1000);
        this.options.onApiKeyRevoked(r.prefix);
        this.guard.noteApiKeyRevoked(r.prefix);
      }
    }
    if (bad > 1) log.error({ rows: bad }, 'revocations left out');
    if (sessions.length) this.guard.noteRevoked(sessions);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
