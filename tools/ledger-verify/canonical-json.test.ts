import { canonicalJson, CanonicalJsonError } from './canonical-json';

/** A double from its IEEE 754 bit pattern (RFC 8785 Appendix B lists number vectors that way). */
const fromBits = (hex: string): number => Buffer.from(hex, 'hex').readDoubleBE(0);

describe('canonicalJson (RFC 8785)', () => {
  it('serialises the RFC 8785 §3.2.2 example', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
        '"literals": [null, true, false]}',
    );
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts members by UTF-16 code units (RFC 8785 §3.2.3), recursively', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    expect(canonicalJson(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    expect(canonicalJson({ b: { z: 1, a: [{ y: 2, x: 1 }] }, a: null })).toBe(
      '{"a":null,"b":{"a":[{"x":1,"y":2}],"z":1}}',
    );
    expect(canonicalJson({ aa: 1, a: 2, B: 3, b: 4 })).toBe('{"B":3,"a":2,"aa":1,"b":4}');
  });

  it('formats numbers as ECMAScript does (RFC 8785 Appendix B)', () => {
    const vectors: [string, string][] = [
      ['0000000000000000', '0'],
      ['8000000000000000', '0'],
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['7fefffffffffffff', '1.7976931348623157e+308'],
      ['ffefffffffffffff', '-1.7976931348623157e+308'],
      ['4340000000000000', '9007199254740992'],
      ['c340000000000000', '-9007199254740992'],
      ['4430000000000000', '295147905179352830000'],
      ['44b52d02c7e14af5', '9.999999999999997e+22'],
      ['44b52d02c7e14af6', '1e+23'],
      ['44b52d02c7e14af7', '1.0000000000000001e+23'],
      ['444b1ae4d6e2ef4e', '999999999999999700000'],
      ['444b1ae4d6e2ef4f', '999999999999999900000'],
      ['444b1ae4d6e2ef50', '1e+21'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['41b3de4355555553', '333333333.3333332'],
      ['41b3de4355555554', '333333333.33333325'],
      ['41b3de4355555555', '333333333.3333333'],
      ['41b3de4355555556', '333333333.3333334'],
      ['41b3de4355555557', '333333333.33333343'],
      ['becbf647612f3696', '-0.0000033333333333333333'],
      ['43143ff3c1cb0959', '1424953923781206.2'],
    ];
    for (const [bits, text] of vectors) expect([bits, canonicalJson(fromBits(bits))]).toEqual([bits, text]);
    expect(canonicalJson([1e21, 1e20, 0.1, -0, 100, 1.5e-7])).toBe('[1e+21,100000000000000000000,0.1,0,100,1.5e-7]');
  });

  it('escapes only quotes, backslashes and control characters, and keeps non-ASCII text as it is', () => {
    expect(canonicalJson('\u000f')).toBe('"\\u000f"');
    expect(canonicalJson('\u001f\u0000\u007f')).toBe('"\\u001f\\u0000\u007f"');
    expect(canonicalJson('\b\t\n\f\r"\\/')).toBe('"\\b\\t\\n\\f\\r\\"\\\\/"');
    expect(canonicalJson('héllo € 😀 \u2028 日本')).toBe('"héllo € 😀 \u2028 日本"');
    expect(canonicalJson({ 'ключ\n': 'значение' })).toBe('{"ключ\\n":"значение"}');
  });

  it('serialises a ledger entry as the spec lays it out', () => {
    const entry = {
      type: 'transfer.created',
      time: '2025-01-02T03:04:05.678Z',
      sourceEventId: null,
      payload: { amount: '12345678901234567890', debit: 'a', credit: 'b', ledger: 1 },
      index: 0,
    };
    expect(canonicalJson(entry)).toBe(
      '{"index":0,"payload":{"amount":"12345678901234567890","credit":"b","debit":"a","ledger":1},' +
        '"sourceEventId":null,"time":"2025-01-02T03:04:05.678Z","type":"transfer.created"}',
    );
  });

  it('refuses values outside I-JSON instead of changing them', () => {
    for (const bits of ['7fffffffffffffff', '7ff0000000000000']) {
      expect(() => canonicalJson(fromBits(bits))).toThrow(CanonicalJsonError);
    }
    for (const bad of [NaN, Infinity, -Infinity, undefined, 1n, () => 1, Symbol('x'), new Date(0), new Map()]) {
      expect(() => canonicalJson(bad)).toThrow(CanonicalJsonError);
    }
    expect(() => canonicalJson({ a: undefined })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(['\ud800'])).toThrow(CanonicalJsonError);
    expect(() => canonicalJson('\udc00x')).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ ['a\ud83d']: 1 })).toThrow(CanonicalJsonError);
    expect(canonicalJson(Object.assign(Object.create(null), { b: 1, a: 2 }))).toBe('{"a":2,"b":1}');
  });
});
