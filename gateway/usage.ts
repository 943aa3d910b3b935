import { Kind, parse, type FragmentDefinitionNode, type SelectionSetNode } from 'graphql';
import { logger } from '../kernel/log';
import type { PubSub } from '../kernel/pubsub';
import { LIMITS_CHANGED_TOPIC } from '../kernel/topics';
import type { InternalClient } from './internal-client';
import { TtlCache } from './ttl-cache';

const log = logger('gateway.usage');
const STATUS_MS = 30_000;

/** Root fields that use up a metered resource besides the API call itself. */
const METERED_FIELDS: Record<string, string> = { sendMessage: 'messages', inviteUser: 'members' };
/** What a tenant over a limit can still do: see its usage, status and account, sign out. */
const EXEMPT = new Set(['usage', 'currentTenant', 'myTenants', 'me', 'myAccess', 'switchTenant', 'logout', 'logoutEverywhere', 'entitlements', '__typename']);

interface QuotaStatus {
  limits: Record<string, number>;
  used: Record<string, number>;
}

type Counts = Map<string, number>;

/** Tenancy's figures and what this gateway counted since reading them. */
interface QuotaEntry {
  status: QuotaStatus | null;
  local: Counts;
}

const add = (counts: Counts, metric: string, n = 1) => counts.set(metric, (counts.get(metric) ?? 0) + n);

/**
 * Counts API calls (and metered operations) per tenant in memory and sends them to tenancy in batches
 * every USAGE_FLUSH_MS, so no request waits for a database write; unsent counts are kept when tenancy is
 * unreachable. Hard limits are checked against tenancy's status (cached, dropped when limits change)
 * plus what this gateway counted since it read it.
 */
export class UsageMeter {
  /** Counted, not yet sent: tenant → hour → metric → n. */
  private pending = new Map<string, Map<string, Counts>>();
  private readonly status = new TtlCache<QuotaEntry>(50_000);
  private readonly timer: NodeJS.Timeout;
  private readonly stop: () => void;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly tenancy: InternalClient,
    flushMs: number,
    pubsub: PubSub,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
    this.stop = pubsub.listen(LIMITS_CHANGED_TOPIC, (p) => {
      const { tenantId } = p as { tenantId?: string };
      if (typeof tenantId === 'string') this.status.delete(tenantId);
    });
  }

  /**
   * The metric whose limit the operation would exceed, if any: the call itself, and each metered root
   * field it asks for (two aliased sendMessage fields need two messages).
   */
  async exceeded(tenantId: string, fields: readonly string[]): Promise<{ metric: string; limit: number } | null> {
    if (fields.every((f) => EXEMPT.has(f))) return null;
    const entry = await this.current(tenantId);
    if (!entry.status) return null;
    const needed: Counts = new Map([['api_calls', 1]]);
    for (const f of fields) if (METERED_FIELDS[f]) add(needed, METERED_FIELDS[f]);
    for (const [metric, n] of needed) {
      const limit = entry.status.limits[metric];
      const used = (entry.status.used[metric] ?? 0) + (entry.local.get(metric) ?? 0);
      if (limit !== undefined && used + n > limit) return { metric, limit };
    }
    return null;
  }

  /**
   * Counts one call and, for each metered root field that took effect (see meteredEffects), what it used
   * (members are a level tenancy counts itself).
   */
  count(tenantId: string, effects: readonly string[]): void {
    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000).toISOString();
    const byHour = this.pending.get(tenantId) ?? new Map<string, Counts>();
    this.pending.set(tenantId, byHour);
    const counts = byHour.get(hour) ?? new Map<string, number>();
    byHour.set(hour, counts);
    const local = this.status.last(tenantId)?.local;
    const metrics = ['api_calls', ...effects.map((f) => METERED_FIELDS[f]).filter((m) => m && m !== 'members')];
    for (const metric of metrics) {
      add(counts, metric);
      if (local) add(local, metric);
    }
  }

  flush(): Promise<void> {
    this.flushing ??= this.send().finally(() => (this.flushing = null));
    return this.flushing;
  }

  private async send(): Promise<void> {
    if (!this.pending.size) return;
    const batch = this.pending;
    this.pending = new Map();
    const rows = [...batch].flatMap(([tenantId, byHour]) =>
      [...byHour].flatMap(([hour, counts]) => [...counts].map(([metric, amount]) => ({ tenantId, hour, metric, amount }))),
    );
    try {
      await this.tenancy.call('record-usage', rows);
    } catch (err) {
      log.warn({ err, rows: rows.length }, 'usage not recorded yet; kept for the next flush');
      for (const r of rows) {
        const byHour = this.pending.get(r.tenantId) ?? new Map<string, Counts>();
        this.pending.set(r.tenantId, byHour);
        add(byHour.get(r.hour) ?? byHour.set(r.hour, new Map()).get(r.hour)!, r.metric, r.amount);
      }
    }
  }

  private async current(tenantId: string): Promise<QuotaEntry> {
    const fresh = this.status.get(tenantId);
    if (fresh) return fresh;
    // What is counted but not sent yet is not in tenancy's numbers: it starts the local count.
    const local: Counts = new Map();
    for (const counts of this.pending.get(tenantId)?.values() ?? []) for (const [metric, n] of counts) add(local, metric, n);
    let status: QuotaStatus | null = null;
    try {
      status = await this.tenancy.call<QuotaStatus | null>('quota-status', { tenantId });
    } catch {
      status = this.status.last(tenantId)?.status ?? null; // tenancy unreachable: the last numbers, or no enforcement until it answers
    }
    return this.status.set(tenantId, { status, local }, status ? STATUS_MS : 5_000);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.stop();
    await this.flush();
  }
}

interface SubgraphResult {
  data?: Record<string, unknown> | null;
  errors?: readonly { path?: readonly (string | number)[] }[];
}

/** The fields (with their response keys) a selection set has at its top level, through fragments. */
function topFields(set: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, seen = new Set<string>()): { key: string; name: string }[] {
  return set.selections.flatMap((sel) => {
    if (sel.kind === Kind.FIELD) return [{ key: sel.alias?.value ?? sel.name.value, name: sel.name.value }];
    if (sel.kind === Kind.INLINE_FRAGMENT) return topFields(sel.selectionSet, fragments, seen);
    const fragment = fragments.get(sel.name.value);
    if (!fragment || seen.has(sel.name.value)) return [];
    return topFields(fragment.selectionSet, fragments, new Set([...seen, sel.name.value]));
  });
}

/** The metered root fields of one subgraph mutation fetch that took effect (see mutationEffects). */
export function meteredEffects(query: string, result: SubgraphResult): string[] {
  if (!/^\s*mutation\b/.test(query) || !Object.keys(METERED_FIELDS).some((f) => query.includes(f))) return [];
  return mutationEffects(query, result).filter((name) => METERED_FIELDS[name]);
}

/**
 * The root fields of one subgraph mutation fetch that took effect, from the fetch's query and the
 * subgraph's answer (none for a query). A subgraph runs a mutation's root fields one after another: a field
 * took effect when it ran and its own resolver did not fail (no error at exactly its path) — a failure
 * further down its selection leaves what it did in place. When a non-null field failed the whole answer is
 * null and the fields after it never ran.
 */
export function mutationEffects(query: string, result: SubgraphResult): string[] {
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
  for (const { key, name } of topFields(operation.selectionSet, fragments)) {
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

/** The operation's root field names, through fragments at the root. */
export function rootFieldNames(operation: { selectionSet: SelectionSetNode }, fragments: readonly FragmentDefinitionNode[]): string[] {
  return topFields(operation.selectionSet, new Map(fragments.map((f) => [f.name.value, f]))).map((f) => f.name);
}
