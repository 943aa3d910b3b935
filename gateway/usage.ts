import {
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  getDirectiveValues,
  parse,
  type FragmentDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';
import { METERED_METRICS, type MeteredMetric } from '../kernel/admission';
import type { Admission } from '../kernel/context';
import { logger } from '../kernel/log';
import type { PubSub } from '../kernel/pubsub';
import { LIMITS_CHANGED_TOPIC } from '../kernel/contracts/topics';
import { InternalCallError, type InternalClient } from './internal-client';
import type { FieldPolicies, OperationType } from './policies';
import type { InternalResponse } from '../kernel/contracts/internal-calls';
import { TtlCache } from './ttl-cache';

const log = logger('gateway.usage');
const STATUS_MS = 30_000;
/** A reservation never settled (a bug) stops holding room after this long. */
const RESERVATION_MS = 120_000;
/** Usage rows per record-usage call: about 12 kB of JSON, under the 16 kB an internal call may carry. */
export const USAGE_ROWS_PER_CALL = 100;

type QuotaStatus = NonNullable<InternalResponse<'quota-status'>>;

type Counts = Map<string, number>;

/** Tenancy's figures and what this gateway counted since reading them. */
interface QuotaEntry {
  status: QuotaStatus | null;
  local: Counts;
}

/** Room held for one call from its check until it is settled with what it did. */
export interface Reservation {
  tenantId: string;
  held: Counts;
  at: number;
}

/** The outcome of checking one call's use of a tenant's limits. */
export interface QuotaGrant {
  /** The API-call limit it would pass (the call is refused); null when it may go on. */
  over: { metric: string; limit: number } | null;
  /** Per metered resource, what the call may use and what the tenant has left; null: not enforced (no figures). */
  allowance: Admission['allowance'];
  /** To settle with what the call did (null when refused). */
  reservation: Reservation | null;
}

const add = (counts: Counts, metric: string, n = 1) => counts.set(metric, (counts.get(metric) ?? 0) + n);

/**
 * Counts API calls (and metered resources) per tenant in memory and sends them to tenancy in batches
 * every USAGE_FLUSH_MS, so no request waits for a database write; unsent counts are kept when tenancy is
 * unreachable. Hard limits are checked against tenancy's status (cached, dropped when limits change)
 * plus what this gateway counted since it read it plus what calls in progress hold: a check reserves what
 * it lets through before anything else runs, so concurrent calls never share the last unit.
 */
export class UsageMeter {
  /** Counted, not yet sent: tenant → hour → metric → n. */
  private pending = new Map<string, Map<string, Counts>>();
  private readonly status = new TtlCache<QuotaEntry>(50_000);
  /** Tenancy's figures being read, one read per tenant at a time. */
  private readonly loading = new Map<string, Promise<QuotaEntry>>();
  /** Held by calls in progress, by tenant. */
  private readonly reserved = new Map<string, Set<Reservation>>();
  private readonly timer: NodeJS.Timeout;
  private readonly stop: () => void;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly tenancy: InternalClient<'tenancy'>,
    flushMs: number,
    pubsub: PubSub,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
    this.stop = pubsub.listen(LIMITS_CHANGED_TOPIC, ({ tenantId }) => this.status.delete(tenantId));
  }

  /**
   * Checks a call's root fields (or the mutation a hook acts as) against the tenant's limits and holds what
   * it lets through: one API call (unless every field is declared `open-over-api-limit`), and for each metered
   * resource as many units as the fields may use (declared `uses-<metric>`), as far as there is room (two aliased sendMessage fields may use two messages; the
   * subgraph refuses a use beyond what was granted). Settle the reservation with `settle`.
   */
  async reserve(
    tenantId: string,
    operation: OperationType,
    fields: readonly string[],
    policies: FieldPolicies,
  ): Promise<QuotaGrant> {
    const entry = await this.current(tenantId);
    // Nothing awaits from here on: what is checked is held before another call of the tenant is checked.
    const held: Counts = new Map();
    const status = entry.status;
    if (!status) return { over: null, allowance: null, reservation: this.hold(tenantId, held) };
    const holding = this.held(tenantId);
    const used = (metric: string) =>
      (status.used[metric] ?? 0) + (entry.local.get(metric) ?? 0) + (holding.get(metric) ?? 0);
    if (!fields.every((f) => f === '__typename' || policies.rootHas('open-over-api-limit', operation, f))) {
      const limit = status.limits.api_calls;
      if (limit !== undefined && used('api_calls') + 1 > limit)
        return { over: { metric: 'api_calls', limit }, allowance: null, reservation: null };
      held.set('api_calls', 1);
    }
    const needed: Counts = new Map();
    for (const f of fields) {
      const metric = policies.meteredMetric(operation, f);
      if (metric) add(needed, metric);
    }
    const allowance: NonNullable<Admission['allowance']> = {};
    for (const metric of METERED_METRICS) {
      const limit = status.limits[metric] ?? Number.MAX_SAFE_INTEGER;
      const room = Math.max(0, limit - used(metric));
      const granted = Math.min(needed.get(metric) ?? 0, room);
      if (granted) held.set(metric, granted);
      allowance[metric] = { granted, room, limit };
    }
    return { over: null, allowance, reservation: this.hold(tenantId, held) };
  }

  /**
   * Ends a reservation with what the call did: one API call and what the subgraphs reported creating
   * (members are a level tenancy counts itself: they stay local until its figures are read again).
   */
  settle(reservation: Reservation, effects: Partial<Record<MeteredMetric, number>> = {}): void {
    const { tenantId } = reservation;
    const holding = this.reserved.get(tenantId);
    holding?.delete(reservation);
    if (holding && !holding.size) this.reserved.delete(tenantId);
    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000).toISOString();
    const byHour = this.pending.get(tenantId) ?? new Map<string, Counts>();
    this.pending.set(tenantId, byHour);
    const counts = byHour.get(hour) ?? new Map<string, number>();
    byHour.set(hour, counts);
    const local = this.status.last(tenantId)?.local;
    const used: [string, number][] = [['api_calls', 1], ...Object.entries(effects).filter(([, n]) => n > 0)];
    for (const [metric, n] of used) {
      if (metric !== 'members') add(counts, metric, n);
      if (local) add(local, metric, n);
    }
  }

  private hold(tenantId: string, held: Counts): Reservation {
    const reservation = { tenantId, held, at: Date.now() };
    const holding = this.reserved.get(tenantId) ?? new Set<Reservation>();
    this.reserved.set(tenantId, holding);
    holding.add(reservation);
    return reservation;
  }

  /** What calls in progress hold for the tenant. */
  private held(tenantId: string): Counts {
    const total: Counts = new Map();
    const holding = this.reserved.get(tenantId);
    const stale = Date.now() - RESERVATION_MS;
    for (const r of holding ?? []) {
      if (r.at < stale) {
        log.error({ tenantId }, 'a quota reservation was never settled; released');
        holding!.delete(r);
        continue;
      }
      for (const [metric, n] of r.held) add(total, metric, n);
    }
    return total;
  }

  /** Sends what was counted; waits for reads of tenancy's figures under way (see `load`). */
  flush(): Promise<void> {
    if (!this.flushing) {
      const reads = [...this.loading.values()];
      this.flushing = Promise.allSettled(reads)
        .then(() => this.send())
        .finally(() => (this.flushing = null));
    }
    return this.flushing;
  }

  private async send(): Promise<void> {
    if (!this.pending.size) return;
    const batch = this.pending;
    this.pending = new Map();
    const rows = [...batch].flatMap(([tenantId, byHour]) =>
      [...byHour].flatMap(([hour, counts]) =>
        [...counts].map(([metric, amount]) => ({ tenantId, hour, metric, amount })),
      ),
    );
    // In parts that each fit the body limit of an internal call.
    for (let i = 0; i < rows.length; i += USAGE_ROWS_PER_CALL) {
      const part = rows.slice(i, i + USAGE_ROWS_PER_CALL);
      try {
        await this.tenancy.call('record-usage', part);
      } catch (err) {
        if (err instanceof InternalCallError && (err.status === 400 || err.status === 413)) {
          // Sent again it would be refused again, and hold back every later count behind it.
          log.error({ err, rows: part.length }, 'usage refused by tenancy; these counts are dropped');
          continue;
        }
        log.warn({ err, rows: part.length }, 'usage not recorded yet; kept for the next flush');
        for (const r of part) {
          const byHour = this.pending.get(r.tenantId) ?? new Map<string, Counts>();
          this.pending.set(r.tenantId, byHour);
          add(byHour.get(r.hour) ?? byHour.set(r.hour, new Map()).get(r.hour)!, r.metric, r.amount);
        }
      }
    }
  }

  private current(tenantId: string): Promise<QuotaEntry> {
    const fresh = this.status.get(tenantId);
    if (fresh) return Promise.resolve(fresh);
    let loading = this.loading.get(tenantId);
    if (!loading) {
      loading = this.load(tenantId).finally(() => this.loading.delete(tenantId));
      this.loading.set(tenantId, loading);
    }
    return loading;
  }

  /**
   * Reads tenancy's figures. Counts sent while they are read could be in them or not, so no batch is sent
   * meanwhile (a flush under way finishes first; the next waits): the figures hold exactly what was sent
   * before, and what is counted but not sent when they arrive starts the local count.
   */
  private async load(tenantId: string): Promise<QuotaEntry> {
    await this.flushing;
    let status: QuotaStatus | null = null;
    try {
      status = await this.tenancy.call('quota-status', { tenantId });
    } catch {
      status = this.status.last(tenantId)?.status ?? null; // tenancy unreachable: the last numbers, or no enforcement until it answers
    }
    const local: Counts = new Map();
    for (const counts of this.pending.get(tenantId)?.values() ?? [])
      for (const [metric, n] of counts) add(local, metric, n);
    return this.status.set(tenantId, { status, local }, status ? STATUS_MS : 5_000);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.stop();
    await this.flush();
  }
}

/** The fields (with their response keys) a selection set has at its top level, through fragments, leaving out those @skip/@include drop. */
function topFields(
  set: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  variables: Record<string, unknown> | undefined,
  seen = new Set<string>(),
): { key: string; name: string }[] {
  return set.selections.flatMap((sel) => {
    if (!included(sel, variables)) return [];
    if (sel.kind === Kind.FIELD) return [{ key: sel.alias?.value ?? sel.name.value, name: sel.name.value }];
    if (sel.kind === Kind.INLINE_FRAGMENT) return topFields(sel.selectionSet, fragments, variables, seen);
    const fragment = fragments.get(sel.name.value);
    if (!fragment || seen.has(sel.name.value)) return [];
    return topFields(fragment.selectionSet, fragments, variables, new Set([...seen, sel.name.value]));
  });
}

/** Whether a selection runs with these variables (GraphQL's @skip and @include). */
function included(node: SelectionNode, variables: Record<string, unknown> | undefined): boolean {
  try {
    if (getDirectiveValues(GraphQLSkipDirective, node, variables)?.if === true) return false;
    return getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if !== false;
  } catch {
    return true; // a malformed directive fails validation anyway; counting the field is the safe side
  }
}

interface SubgraphResult {
  data?: Record<string, unknown> | null;
  errors?: readonly { path?: readonly (string | number)[] }[];
}

/**
 * The root fields of one subgraph mutation fetch that took effect, from the fetch's query and the
 * subgraph's answer (none for a query). A subgraph runs a mutation's root fields one after another: a field
 * took effect when it ran and its own resolver did not fail (no error at exactly its path) — a failure
 * further down its selection leaves what it did in place. When a non-null field failed the whole answer is
 * null and the fields after it never ran.
 */
export function mutationEffects(query: string, result: SubgraphResult, variables?: Record<string, unknown>): string[] {
  if (!/^\s*mutation\b/.test(query)) return [];
  const document = parse(query, { noLocation: true });
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (!operation || operation.kind !== Kind.OPERATION_DEFINITION || operation.operation !== 'mutation') return [];
  const errors = result.errors ?? [];
  const aborted = result.data === null || result.data === undefined;
  // Nothing ran (the request itself was refused, or its variables were).
  if (aborted && !errors.some((e) => e.path?.length)) return [];
  const failed = new Set(errors.filter((e) => e.path?.length === 1).map((e) => String(e.path![0])));
  const reached = new Set(errors.filter((e) => e.path?.length).map((e) => String(e.path![0])));
  const effects: string[] = [];
  for (const { key, name } of topFields(operation.selectionSet, fragments, variables)) {
    // A field left out of a complete answer did not run (skipped).
    if (!aborted && !(key in result.data!) && !failed.has(key)) continue;
    if (failed.has(key)) {
      if (aborted) break;
      continue;
    }
    if (name !== '__typename') effects.push(name);
    // Its result was lost to a failure below it; nothing after it ran.
    if (aborted && reached.has(key)) break;
  }
  return effects;
}

/** The operation's root fields (response key and field name), through fragments at the root, as they run with `variables`. */
export function rootFields(
  operation: { selectionSet: SelectionSetNode },
  fragments: readonly FragmentDefinitionNode[],
  variables?: Record<string, unknown>,
): { key: string; name: string }[] {
  return topFields(operation.selectionSet, new Map(fragments.map((f) => [f.name.value, f])), variables);
}

/** The operation's root field names, as they run with `variables`. */
export function rootFieldNames(
  operation: { selectionSet: SelectionSetNode },
  fragments: readonly FragmentDefinitionNode[],
  variables?: Record<string, unknown>,
): string[] {
  return rootFields(operation, fragments, variables).map((f) => f.name);
}
