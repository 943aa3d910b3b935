/**
 * RFC 8785 JSON Canonicalization Scheme: object members sorted by the UTF-16 code units of their names,
 * no whitespace, numbers as ECMAScript's Number.prototype.toString, strings with the minimal escapes.
 * Values outside I-JSON (non-finite numbers, lone surrogates, undefined, functions, bigints, class
 * instances) are refused rather than silently changed.
 */

export class CanonicalJsonError extends Error {
  override name = 'CanonicalJsonError';
}

const SHORT_ESCAPES: Record<number, string> = {
  0x08: '\\b',
  0x09: '\\t',
  0x0a: '\\n',
  0x0c: '\\f',
  0x0d: '\\r',
  0x22: '\\"',
  0x5c: '\\\\',
};

function serializeString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) throw new CanonicalJsonError('lone surrogate in string');
      out += s[i] + s[i + 1];
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      throw new CanonicalJsonError('lone surrogate in string');
    } else if (SHORT_ESCAPES[c] !== undefined) {
      out += SHORT_ESCAPES[c];
    } else if (c < 0x20) {
      out += '\\u' + c.toString(16).padStart(4, '0');
    } else {
      out += s[i];
    }
  }
  return out + '"';
}

function serializeNumber(n: number): string {
  if (!Number.isFinite(n)) throw new CanonicalJsonError(`${n} is not a JSON number`);
  // Number.prototype.toString is the ECMAScript number serialisation RFC 8785 §3.2.2.3 names; -0 gives "0".
  return String(n);
}

/** UTF-16 code unit order, which is what the default string comparison of ECMAScript does. */
function compareUtf16(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function serialize(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return serializeNumber(value);
    case 'string':
      return serializeString(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => serialize(v, `${path}[${i}]`)).join(',')}]`;
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new CanonicalJsonError(`${path} is not a plain object`);
      }
      const record = value as Record<string, unknown>;
      const members = Object.keys(record)
        .sort(compareUtf16)
        .map((k) => `${serializeString(k)}:${serialize(record[k], `${path}.${k}`)}`);
      return `{${members.join(',')}}`;
    }
    default:
      throw new CanonicalJsonError(`${path} has a value of type ${typeof value}, which JSON cannot hold`);
  }
}

/** The RFC 8785 canonical JSON text of a JSON value (plain objects, arrays, strings, numbers, booleans, null). */
export function canonicalJson(value: unknown): string {
  return serialize(value, '$');
}
