import { cleanName, findUnstorableText, isStorableText, storableJson, storableText } from './text';

describe('text as services take it in', () => {
  it('tells storable text from text PostgreSQL would refuse or change', () => {
    expect(['plain', 'ünïcödé', '🙂 paired surrogates', 'tab\tand\nnewline', ''].every(isStorableText)).toBe(true);
    expect(['a\u0000b', 'a\ud800b', 'a\udc00b', '\ud83d', 'x\ude42'].some(isStorableText)).toBe(false);
  });

  it('finds the first unstorable string or key of a nested value, however deep, without recursion', () => {
    expect(findUnstorableText({ a: ['ok', { b: 'x\u0000' }] }, 'variables')).toEqual({
      path: 'variables.a.1.b',
      tooLong: false,
    });
    expect(findUnstorableText({ ['k\ud800']: 1 }, 'body')).toEqual({ path: 'body.k\ufffd', tooLong: false });
    expect(findUnstorableText({ a: 'xxxx' }, 'args', 3)).toEqual({ path: 'args.a', tooLong: true });
    expect(findUnstorableText({ when: new Date(), n: 1, yes: true, none: null }, 'args')).toBeNull();
    let deep: unknown = 'x\ud800';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findUnstorableText(deep, 'body')?.path.endsWith('.0')).toBe(true);
  });

  it('makes a record storable by replacing what PostgreSQL cannot keep, keys included', () => {
    expect(storableText('a\u0000b\ud800c🙂')).toBe('a\ufffdb\ufffdc🙂');
    expect(storableJson({ reason: 'x\u0000', list: ['\udc00', 2], ['k\u0000']: null })).toEqual({
      reason: 'x\ufffd',
      list: ['\ufffd', 2],
      ['k\ufffd']: null,
    });
  });

  it('cleans a name of control characters and bidirectional formatting controls', () => {
    expect(cleanName('  Acme\u202E\u2066\u200F\u061C Inc\u0007\n ')).toBe('Acme Inc');
    expect(cleanName('e\u0301')).toBe('é');
  });
});
