/**
 * What the gateway remembers of answers from identity and tenancy: each entry for a while, at most
 * `maxEntries` (the oldest go first), and dropped early when an announcement says it changed.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(private readonly maxEntries: number) {}

  /** The value while it is fresh; undefined once it expired (or was never set). */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    return entry && entry.until > Date.now() ? entry.value : undefined;
  }

  /** The value even if expired: the last answer, for when the source cannot be reached. */
  last(key: string): V | undefined {
    return this.entries.get(key)?.value;
  }

  set(key: string, value: V, ttlMs: number): V {
    this.entries.delete(key);
    this.entries.set(key, { value, until: Date.now() + ttlMs });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  deleteWhere(matches: (key: string, value: V) => boolean): void {
    for (const [key, entry] of this.entries) if (matches(key, entry.value)) this.entries.delete(key);
  }
}
