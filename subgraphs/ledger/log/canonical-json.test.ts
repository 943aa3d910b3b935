import { canonicalJson } from './canonical-json';

describe('canonicalJson (server)', () => {
  it('keeps the RFC 8785 form of plain JSON', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
        '"literals": [null, true, false]}',
    );
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
    expect(canonicalJson({ '\u20ac': 1, '\r': 2, '\ud83d\ude00': 3, '\ufb33': 4, '1': 5 })).toBe(
      '{"\\r":2,"1":5,"\u20ac":1,"\ud83d\ude00":3,"\ufb33":4}',
    );
    expect(canonicalJson({ b: { z: 1, a: [{ y: 2, x: 1 }] }, a: null, gone: undefined })).toBe(
      '{"a":null,"b":{"a":[{"x":1,"y":2}],"z":1}}',
    );
    expect(canonicalJson(-0)).toBe('0');
    expect(canonicalJson('\u0000')).toBe('"\\u0000"');
  });

  it('takes objects without a prototype and members named __proto__ as plain JSON', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: 'x' });
    expect(canonicalJson(bare)).toBe('{"a":"x","b":1}');
    expect(canonicalJson(JSON.parse('{"__proto__":{"x":1}}'))).toBe('{"__proto__":{"x":1}}');
  });

  it('refuses objects that are not plain instead of hashing them as {}', () => {
    class Money {
      amount = '5';
    }
    for (const value of [new Date(0), new Map([['a', 1]]), new Set([1]), new Money(), /x/, Buffer.from('a')])
      expect(() => canonicalJson({ payload: value })).toThrow(TypeError);
    expect(() => canonicalJson([new Date(0)])).toThrow(/Date/);
  });

  it('refuses strings and member names holding an unpaired surrogate', () => {
    expect(() => canonicalJson('\ud800')).toThrow(/surrogate/);
    expect(() => canonicalJson({ note: 'a\udc00b' })).toThrow(/surrogate/);
    expect(() => canonicalJson({ ['\ud83d']: 1 })).toThrow(/surrogate/);
    expect(() => canonicalJson(['\ude00'])).toThrow(/surrogate/);
    // A whole pair is one character.
    expect(canonicalJson('\ud83d\ude00')).toBe('"\ud83d\ude00"');
  });

  it('refuses undefined and holes inside arrays (JSON.stringify would write null)', () => {
    expect(() => canonicalJson([1, undefined])).toThrow(/undefined/);
    // eslint-disable-next-line no-sparse-arrays
    expect(() => canonicalJson([1, , 3])).toThrow(/undefined/);
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
  });

  it('refuses what JSON cannot hold', () => {
    for (const value of [NaN, Infinity, 1n, () => 1, Symbol('s')])
      expect(() => canonicalJson({ value })).toThrow(TypeError);
  });
});
