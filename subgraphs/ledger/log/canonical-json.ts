// Code units of a surrogate pair half that has no partner (JSON text must be Unicode; RFC 8785 §3.2.2.2).
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * RFC 8785 (JSON Canonicalization Scheme): object members sorted by their names' UTF-16 code units, no
 * whitespace, numbers as ECMAScript prints them, strings with the minimal escapes of JSON.stringify.
 * Only plain JSON is taken: a value with no JSON form of its own is refused rather than hashed as something
 * else — non-finite numbers, bigint, functions, symbols, undefined (an object member that is undefined is left
 * out, as JSON.stringify does; in an array, or a hole, it is refused), objects that are not plain (Date, Map,
 * class instances: a prototype other than Object.prototype or null) and strings or names holding an unpaired
 * UTF-16 surrogate.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no form for a non-finite number');
      return JSON.stringify(value);
    case 'string':
      return jsonString(value);
    case 'object': {
      if (Array.isArray(value)) {
        const items: string[] = [];
        for (let i = 0; i < value.length; i++) {
          if (value[i] === undefined) throw new TypeError(`canonical JSON has no form for undefined (item ${i})`);
          items.push(canonicalJson(value[i]));
        }
        return `[${items.join(',')}]`;
      }
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null)
        throw new TypeError(
          `canonical JSON has no form for a ${prototype?.constructor?.name ?? 'non-plain'} object (only plain objects)`,
        );
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
      // Default sort compares UTF-16 code units, as RFC 8785 §3.2.3 asks.
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${jsonString(k)}:${canonicalJson(v)}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON has no form for a ${typeof value}`);
  }
}

function jsonString(text: string): string {
  if (LONE_SURROGATE.test(text))
    throw new TypeError('canonical JSON has no form for a string holding an unpaired UTF-16 surrogate');
  return JSON.stringify(text);
}
