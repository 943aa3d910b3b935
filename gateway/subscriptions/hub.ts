import { createHash } from 'node:crypto';
import { GraphQLError, type ExecutionResult, type FormattedExecutionResult, type GraphQLFormattedError } from 'graphql';
import type { RequestContext } from '../../kernel/context';
import { logger } from '../../kernel/log';
import { ENTITY_ID_VARIABLE, type SplitSubscription } from './operations';
import type { SubscriptionRoute } from './routing';
import { FairScheduler } from './scheduler';
import type { Admission, UpstreamPool } from './upstream';

/** Runs a federated query through the gateway as the given caller (the same path as HTTP). */
export type FederatedExecutor = (
  query: string,
  variables: Record<string, unknown>,
  ctx: RequestContext,
) => Promise<FormattedExecutionResult>;

export interface SubscriberHandle {
  ctx: RequestContext;
  /** Checked before every delivery; false ends the subscriber's connection (revoked, expired…). */
  stillValid(): boolean;
  /**
   * Writes one already-serialised result (UTF-8 JSON) to the subscriber's socket as a graphql-ws `next`
   * message (the same bytes for the whole group, serialised once). Without it, results go through the iterator.
   */
  send?(resultJson: Buffer): void;
  /** The name the client gave the root field (its alias): results are keyed by it. The field's name when unset. */
  responseKey?: string;
}

type Result = ExecutionResult | FormattedExecutionResult;

/**
 * A subscription whose events may have been missed (the owning subgraph's connection dropped, or its
 * events came faster than they could be resolved) ends with this code: refetch, then subscribe again.
 */
export const SUBSCRIPTION_INTERRUPTED = 'SUBSCRIPTION_INTERRUPTED';
const INTERRUPTED_MESSAGE =
  'This subscription was interrupted and may have missed events: refetch what it shows, then subscribe again';

/**
 * How long a client should wait before subscribing again (`extensions.retryAfterMs`): about as long as the
 * gateway takes to reconnect to a subgraph, spread out so that clients ended together do not return together.
 */
export function retryAfterMs(): number {
  return 1_000 + Math.floor(Math.random() * 2_000);
}

const interruptedError = (): GraphQLFormattedError => ({
  message: INTERRUPTED_MESSAGE,
  extensions: { code: SUBSCRIPTION_INTERRUPTED, retryAfterMs: retryAfterMs() },
});
/** Sockets written to between two turns of the event loop when fanning out one event. */
const FANOUT_SLICE = 256;
/** Re-admission probes run at once when a group's upstream failed (each may take up to 10 s). */
const RECOVERY_PROBES = 8;
/** Users an event that resolved to nothing is tried as before the group is interrupted. */
const NULL_RESULT_TRIES = 3;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The result under the subscriber's own name for the root field. */
function keyed(result: Result, from: string, to: string): Result {
  if (from === to) return result;
  const data = result.data ? { [to]: (result.data as Record<string, unknown>)[from] } : result.data;
  const errors = result.errors?.map((e): GraphQLFormattedError => {
    const plain = e instanceof GraphQLError ? e.toJSON() : (e as GraphQLFormattedError);
    return plain.path?.[0] === from ? { ...plain, path: [to, ...plain.path.slice(1)] } : plain;
  });
  return { ...result, data, ...(errors ? { errors } : {}) } as FormattedExecutionResult;
}

class Subscriber implements AsyncIterableIterator<Result> {
  private readonly queue: Result[] = [];
  private waiting: ((r: IteratorResult<Result>) => void) | null = null;
  private ending = false;
  private done = false;

  constructor(
    readonly handle: SubscriberHandle,
    private readonly onDone: (s: Subscriber) => void,
  ) {}

  push(result: Result): void {
    if (this.done || this.ending) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value: result, done: false });
    } else if (this.queue.length < 1_000) this.queue.push(result);
    else void this.return(); // a client this far behind is dropped rather than buffered without bound
  }

  next(): Promise<IteratorResult<Result>> {
    if (this.queue.length) return Promise.resolve({ value: this.queue.shift()!, done: false });
    if (this.done || this.ending) return this.return();
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<Result>> {
    if (!this.done) {
      this.done = true;
      this.queue.length = 0;
      this.waiting?.({ value: undefined, done: true });
      this.waiting = null;
      this.onDone(this);
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Ends once what is queued has been read. */
  finish(): void {
    this.ending = true;
    if (this.waiting) void this.return();
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}

/** Subscribers that would get exactly the same results share one upstream subscription and one execution per event. */
class Group {
  readonly subscribers = new Set<Subscriber>();
  private stopUpstream: (() => void) | null = null;
  private chain: Promise<void> = Promise.resolve();
  private interrupted = false;

  constructor(
    readonly key: string,
    readonly tenantId: string | null,
    private readonly route: SubscriptionRoute,
    private readonly split: SplitSubscription,
    private readonly variables: Record<string, unknown>,
    private readonly ctx: RequestContext,
    private readonly upstream: UpstreamPool,
    private readonly execute: FederatedExecutor,
    private readonly scheduler: FairScheduler,
    private readonly onEmpty: (g: Group) => void,
  ) {}

  start(): void {
    const direct = this.split.direct;
    this.stopUpstream = this.upstream.subscribe(
      this.route.subgraph,
      direct ?? this.split.upstream,
      this.variables,
      this.ctx,
      {
        next: (data, errors) => {
          if (direct) {
            // Complete from the owning subgraph: written out as it came (with any field errors), in order.
            const result: Result = errors?.length
              ? ({
                  data,
                  errors: errors.map((e) => ({ message: e.message, path: e.path, extensions: e.extensions })),
                } as FormattedExecutionResult)
              : { data };
            this.chain = this.chain
              .then(() => this.deliver(result))
              .catch((err) => log.error({ err }, 'event delivery failed'));
            return;
          }
          const entity = data[this.split.rootField] as { id?: unknown } | null;
          if (!entity || typeof entity.id !== 'string') return;
          // One execution per event for the whole group, in the tenant's turn; delivered in event order.
          const id = entity.id;
          const resolved = this.scheduler.run(this.tenantId ?? '', () => this.resolve(id));
          if (!resolved) {
            // Events come faster than this tenant's lookups run: rather than queue without bound, say so.
            log.warn(
              { tenantId: this.tenantId, subgraph: this.route.subgraph },
              'subscription fell behind its events; ending it',
            );
            this.stopUpstream?.();
            this.stopUpstream = null;
            this.interrupt();
            return;
          }
          this.chain = this.chain
            .then(() => resolved.then((r) => this.deliver(r)))
            .catch((err) => log.error({ err }, 'event delivery failed'));
        },
        refused: (errors) => {
          // Refused for the caller it was opened as (who may have lost access since): each is asked again.
          this.stopUpstream?.();
          this.stopUpstream = null;
          void this.recover(errors).catch((err) => log.error({ err }, 'subscription recovery failed'));
        },
        interrupted: () => {
          this.stopUpstream = null;
          this.interrupt();
        },
      },
    );
  }

  /**
   * Events may have been lost (the upstream dropped, or this group fell behind): once what was received
   * is delivered, every subscriber gets SUBSCRIPTION_INTERRUPTED and ends. New subscribers start afresh.
   */
  private interrupt(): void {
    if (this.interrupted) return;
    this.interrupted = true;
    this.onEmpty(this);
    this.chain = this.chain
      .then(() => {
        for (const s of this.subscribers) {
          s.push({ errors: [interruptedError()] } as FormattedExecutionResult);
          s.finish();
        }
      })
      .catch((err) => log.error({ err }, 'ending an interrupted subscription failed'));
  }

  /** Asks the subgraph again whether a subscriber may stay; ends it with the refusal when not. */
  async readmit(s: Subscriber): Promise<boolean> {
    let admission: Admission;
    try {
      admission = await this.upstream.probe(this.route.subgraph, this.split.upstream, this.variables, s.handle.ctx);
    } catch {
      return true; // the subgraph cannot be asked right now: keep what was admitted
    }
    if ('audience' in admission) return true;
    const errors = admission.errors.map((e) => ({ message: e.message, extensions: e.extensions }));
    this.refusals.set(s, errors);
    this.endWith(s, { errors } as FormattedExecutionResult);
    return false;
  }

  /**
   * The upstream subscription failed or was refused mid-stream (for the caller it was opened as, who may
   * have lost access since): events may have been missed, so it is never opened again silently. Each
   * subscriber is asked about once more (a user at a time, a few at once): those refused end with the
   * refusal, the others with SUBSCRIPTION_INTERRUPTED, to refetch and subscribe again.
   */
  private async recover(errors: readonly { message: string; extensions?: Record<string, unknown> }[]): Promise<void> {
    // Whoever subscribes meanwhile starts a group of their own.
    this.onEmpty(this);
    const byUser = new Map<string, Subscriber[]>();
    for (const s of this.subscribers) {
      if (!s.handle.stillValid()) continue;
      const user = s.handle.ctx.userId ?? '';
      byUser.set(user, [...(byUser.get(user) ?? []), s]);
    }
    const users = [...byUser.values()];
    let kept = 0;
    const work = async () => {
      for (let next = users.shift(); next; next = users.shift()) {
        // One probe speaks for the user's other subscriptions here (same rights, same stream).
        if (await this.readmit(next[0])) kept += next.length;
        else for (const s of next.slice(1)) this.endWith(s, { errors: this.refusalOf(next[0]) });
      }
    };
    await Promise.all(Array.from({ length: Math.min(RECOVERY_PROBES, users.length) }, work));
    if (kept === 0) {
      for (const s of this.subscribers)
        this.endWith(s, {
          errors: errors.map((e) => ({ message: e.message, extensions: e.extensions })),
        } as FormattedExecutionResult);
      this.stop();
      return;
    }
    this.interrupt();
  }

  private readonly refusals = new WeakMap<Subscriber, GraphQLFormattedError[]>();

  private refusalOf(s: Subscriber): GraphQLFormattedError[] {
    return this.refusals.get(s) ?? [interruptedError()];
  }

  private endWith(s: Subscriber, result: Result): void {
    s.push(result);
    s.finish();
  }

  /**
   * The caller the upstream was opened as had their access changed: when the subgraph no longer admits
   * them, the stream (checked when it opened, resolved as them when direct) cannot be trusted to carry
   * every event, and the group is interrupted.
   */
  async recheckOpener(): Promise<void> {
    if (this.interrupted || !this.stopUpstream || this.subscribers.size === 0) return;
    let admission: Admission;
    try {
      admission = await this.upstream.probe(this.route.subgraph, this.split.upstream, this.variables, this.ctx);
    } catch {
      return;
    }
    if ('audience' in admission || this.interrupted || this.subscribers.size === 0) return;
    this.stopUpstream?.();
    this.stopUpstream = null;
    this.interrupt();
  }

  openedBy(userIds: readonly string[] | null): boolean {
    return userIds === null || (this.ctx.userId !== null && userIds.includes(this.ctx.userId));
  }

  /**
   * The event's result for this group, resolved as a subscriber who is still allowed (the first may have
   * left or been revoked). A null result (the runner may no longer see it) is tried as the next users; when
   * none of them sees it either, the group is interrupted rather than the event silently dropped for all.
   */
  private async resolve(id: string): Promise<Result | null> {
    const tried = new Set<string | null>();
    for (const s of [...this.subscribers]) {
      if (tried.size >= NULL_RESULT_TRIES) break;
      if (!s.handle.stillValid() || tried.has(s.handle.ctx.userId)) continue;
      tried.add(s.handle.ctx.userId);
      const result = await this.execute(
        this.split.eventQuery,
        { ...this.variables, [ENTITY_ID_VARIABLE]: id },
        s.handle.ctx,
      );
      if (!(result.data && result.data[this.split.responseKey] === null && !result.errors)) return result;
    }
    if (tried.size > 0 && this.subscribers.size > 0) {
      log.warn(
        { tenantId: this.tenantId, subgraph: this.route.subgraph },
        'an event of a shared subscription resolved to nothing; ending it',
      );
      this.stopUpstream?.();
      this.stopUpstream = null;
      this.interrupt();
    }
    return null;
  }

  /**
   * Writes the result to every subscriber, serialised once per name given to the root field, a slice of
   * sockets at a time so that other work (other tenants' requests) runs in between.
   */
  private async deliver(result: Result | null): Promise<void> {
    if (!result) return;
    const frames = new Map<string, Buffer>();
    let written = 0;
    for (const s of [...this.subscribers]) {
      if (!s.handle.stillValid()) continue;
      const key = s.handle.responseKey ?? this.split.responseKey;
      if (s.handle.send) {
        let json = frames.get(key);
        if (!json) frames.set(key, (json = Buffer.from(JSON.stringify(keyed(result, this.split.responseKey, key)))));
        s.handle.send(json);
      } else s.push(keyed(result, this.split.responseKey, key));
      if (++written % FANOUT_SLICE === 0) await nextTurn();
    }
  }

  remove(s: Subscriber): void {
    this.subscribers.delete(s);
    // The upstream stays open as the subscriber who opened it, even when they leave: everyone in the group
    // has the same tenant, rights and audience, and events are resolved as one who stays. Opening it again
    // as another would miss the events in between.
    if (this.subscribers.size === 0) this.stop();
  }

  stop(): void {
    this.stopUpstream?.();
    this.stopUpstream = null;
    this.onEmpty(this);
  }
}

const log = logger('gateway.subscriptions');

/**
 * Routes client subscriptions: the root field goes to its owning subgraph (only the entity key comes
 * back), and each event's full selection is resolved by a federated query through the gateway.
 */
export class SubscriptionHub {
  private readonly groups = new Map<string, Group>();

  constructor(
    private readonly upstream: UpstreamPool,
    private readonly execute: FederatedExecutor,
    private readonly scheduler: FairScheduler = new FairScheduler(),
  ) {}

  /** Executions of event queries so far (one per event per group). */
  executions = 0;
  /** Event queries running now per tenant, and the most any tenant had running at once. */
  private readonly running = new Map<string, number>();
  private peakPerTenant = 0;

  stats(): Record<string, number> {
    let subscribers = 0;
    for (const g of this.groups.values()) subscribers += g.subscribers.size;
    return {
      subscriptionGroups: this.groups.size,
      subscribers,
      eventExecutions: this.executions,
      eventExecutionsPeakPerTenant: this.peakPerTenant,
    };
  }

  private async counted(
    query: string,
    variables: Record<string, unknown>,
    ctx: RequestContext,
  ): Promise<FormattedExecutionResult> {
    this.executions++;
    const tenant = ctx.tenantId ?? '';
    const now = (this.running.get(tenant) ?? 0) + 1;
    this.running.set(tenant, now);
    this.peakPerTenant = Math.max(this.peakPerTenant, now);
    try {
      return await this.execute(query, variables, ctx);
    } finally {
      const left = (this.running.get(tenant) ?? 1) - 1;
      if (left > 0) this.running.set(tenant, left);
      else this.running.delete(tenant);
    }
  }

  /**
   * Admits the caller through the owning subgraph's own checks, then joins them to the group of
   * subscribers who get exactly the same events (same operation, variables, tenant, rights and the
   * audience the subgraph declared; the same user too when the selection depends on the viewer). A refusal comes back as the result to send. `operationKey` and
   * `variables` are the canonical ones (operations.ts), so that aliases of the root field share.
   */
  async subscribe(
    route: SubscriptionRoute,
    split: SplitSubscription,
    operationKey: string,
    variables: Record<string, unknown>,
    handle: SubscriberHandle,
  ): Promise<AsyncIterableIterator<Result> | FormattedExecutionResult> {
    const ctx = handle.ctx;
    const admission = await this.upstream
      .probe(route.subgraph, split.upstream, variables, ctx)
      .catch((): Admission => ({
        errors: [
          {
            message: 'The service behind this subscription is unavailable',
            extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterMs: retryAfterMs() },
          },
        ],
      }));
    if ('errors' in admission)
      return { errors: admission.errors.map((e) => ({ message: e.message, extensions: e.extensions })) };
    const key = createHash('sha256')
      .update(
        JSON.stringify([
          operationKey,
          variables,
          ctx.tenantId,
          [...ctx.permissions].sort(),
          ctx.roles.slice().sort(),
          admission.audience,
          // Content that depends on who reads it is never shared beyond the one viewer.
          split.perViewer ? ctx.userId : null,
        ]),
      )
      .digest('base64url');
    let group = this.groups.get(key);
    const fresh = !group;
    if (!group) {
      group = new Group(
        key,
        ctx.tenantId,
        route,
        split,
        variables,
        ctx,
        this.upstream,
        (q, v, c) => this.counted(q, v, c),
        this.scheduler,
        (g) => {
          if (this.groups.get(g.key) === g) this.groups.delete(g.key);
        },
      );
      this.groups.set(key, group);
    }
    const g = group;
    const subscriber = new Subscriber(handle, (s) => g.remove(s));
    g.subscribers.add(subscriber);
    if (fresh) g.start();
    return subscriber;
  }

  /**
   * Someone's access changed in a tenant (left or was removed from a room, banned…): their live
   * subscriptions there are admitted again, and those no longer allowed end with the subgraph's refusal.
   */
  async accessChanged(tenantId: string, userIds: readonly string[] | null): Promise<void> {
    const checks: Promise<boolean>[] = [];
    const openers: Group[] = [];
    for (const g of this.groups.values()) {
      if (g.tenantId !== tenantId) continue;
      for (const s of g.subscribers) {
        if (userIds === null || (s.handle.ctx.userId !== null && userIds.includes(s.handle.ctx.userId)))
          checks.push(g.readmit(s));
      }
      if (g.openedBy(userIds)) openers.push(g);
    }
    await Promise.all(checks);
    // The upstream runs as its opener, who may have left the group since: when they lost access, it ends
    // (after those refused got their own refusal).
    await Promise.all(openers.map((g) => g.recheckOpener()));
  }
}
