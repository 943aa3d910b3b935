import { createHash } from 'node:crypto';
import type { ExecutionResult, FormattedExecutionResult } from 'graphql';
import type { RequestContext } from '../../kernel/context';
import { logger } from '../../kernel/log';
import { ENTITY_ID_VARIABLE, type SplitSubscription } from './operations';
import type { SubscriptionRoute } from './routing';
import type { UpstreamPool } from './upstream';

/** Runs a federated query through the gateway as the given caller (the same path as HTTP). */
export type FederatedExecutor = (query: string, variables: Record<string, unknown>, ctx: RequestContext) => Promise<FormattedExecutionResult>;

export interface SubscriberHandle {
  ctx: RequestContext;
  /** Checked before every delivery; false ends the subscriber's connection (revoked, expired…). */
  stillValid(): boolean;
}

type Result = ExecutionResult | FormattedExecutionResult;

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

  constructor(
    readonly key: string,
    private readonly route: SubscriptionRoute,
    private readonly split: SplitSubscription,
    private readonly variables: Record<string, unknown>,
    private readonly ctx: RequestContext,
    private readonly upstream: UpstreamPool,
    private readonly execute: FederatedExecutor,
    private readonly onEmpty: (g: Group) => void,
  ) {}

  start(): void {
    this.stopUpstream = this.upstream.subscribe(this.route.subgraph, this.split.upstream, this.variables, this.ctx, {
      next: (data) => {
        const entity = data[this.split.rootField] as { id?: unknown } | null;
        if (!entity || typeof entity.id !== 'string') return;
        const id = entity.id;
        // One execution per event for the whole group, in event order.
        this.chain = this.chain.then(() => this.deliver(id)).catch((err) => log.error({ err }, 'event delivery failed'));
      },
      refused: (errors) => {
        for (const s of this.subscribers) {
          s.push({ errors: errors.map((e) => ({ message: e.message, extensions: e.extensions })) } as FormattedExecutionResult);
          s.finish();
        }
        this.stop();
      },
      complete: () => {
        for (const s of this.subscribers) s.finish();
        this.stop();
      },
    });
  }

  private async deliver(id: string): Promise<void> {
    // Resolve as a subscriber who is still allowed (the first one may have left or been revoked).
    const runner = [...this.subscribers].find((s) => s.handle.stillValid());
    if (!runner) return;
    const result = await this.execute(this.split.eventQuery, { ...this.variables, [ENTITY_ID_VARIABLE]: id }, runner.handle.ctx);
    // An event the caller may not see (deleted since, or not visible) resolves to null: nothing to send.
    if (result.data && result.data[this.split.responseKey] === null && !result.errors) return;
    for (const s of this.subscribers) {
      if (s.handle.stillValid()) s.push(result);
    }
  }

  remove(s: Subscriber): void {
    this.subscribers.delete(s);
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
  ) {}

  /** Executions of event queries so far (one per event per group). */
  executions = 0;

  stats(): Record<string, number> {
    let subscribers = 0;
    for (const g of this.groups.values()) subscribers += g.subscribers.size;
    return { subscriptionGroups: this.groups.size, subscribers, eventExecutions: this.executions };
  }

  subscribe(
    route: SubscriptionRoute,
    split: SplitSubscription,
    operationKey: string,
    variables: Record<string, unknown>,
    handle: SubscriberHandle,
  ): AsyncIterableIterator<Result> {
    const ctx = handle.ctx;
    const key = createHash('sha256')
      .update(JSON.stringify([operationKey, variables, ctx.tenantId, [...ctx.permissions].sort(), ctx.roles.slice().sort()]))
      .digest('base64url');
    let group = this.groups.get(key);
    const fresh = !group;
    if (!group) {
      const execute: FederatedExecutor = (q, v, c) => {
        this.executions++;
        return this.execute(q, v, c);
      };
      group = new Group(key, route, split, variables, ctx, this.upstream, execute, (g) => {
        if (this.groups.get(g.key) === g) this.groups.delete(g.key);
      });
      this.groups.set(key, group);
    }
    const g = group;
    const subscriber = new Subscriber(handle, (s) => g.remove(s));
    g.subscribers.add(subscriber);
    if (fresh) g.start();
    return subscriber;
  }
}
