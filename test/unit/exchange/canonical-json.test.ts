import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../shared/formats/canonical-json.std';

describe('canonicalJson', () => {
  it('sorts members at every depth and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}',
    );
  });

  it('gives the same text for the same value however it was written', () => {
    const one = JSON.parse('{"format":"mkm-exchange","items":[{"kind":"kcv","kcv":"abcdef"}],"version":1}');
    const two = JSON.parse(`{
      "version": 1,
      "items": [ { "kcv": "abcdef", "kind": "kcv" } ],
      "format": "mkm-exchange"
    }`);
    expect(canonicalJson(one)).toBe(canonicalJson(two));
  });

  it('keeps array order (an order change is a different value)', () => {
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  });

  it('orders names by UTF-16 code units, as RFC 8785 does', () => {
    // RFC 8785 §3.2.3 example: "\u20ac" (U+20AC) sorts before "\ud83d\ude00" (U+1F600, a surrogate
    // pair starting 0xD83D), and both after "\r" and "1".
    const value = { '\u20ac': 'Euro', '\r': 'CR', '\ud83d\ude00': 'Smiley', '1': 'One', '\u0080': 'Control' };
    expect(canonicalJson(value)).toBe(
      '{"\\r":"CR","1":"One","\u0080":"Control","\u20ac":"Euro","\ud83d\ude00":"Smiley"}',
    );
  });

  it('writes strings and numbers as JSON.stringify does (the JCS rules)', () => {
    expect(canonicalJson({ s: 'a"b\\c\n\u0001é', n: [0, -0, 1e21, 0.1, -5] })).toBe(
      '{"n":[0,0,1e+21,0.1,-5],"s":"a\\"b\\\\c\\n\\u0001é"}',
    );
  });

  it('leaves out undefined members, like JSON', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
  });

  it('refuses what JSON cannot carry faithfully instead of coercing it', () => {
    expect(() => canonicalJson({ n: NaN })).toThrow(/NaN/);
    expect(() => canonicalJson({ n: Infinity })).toThrow(/Infinity/);
    expect(() => canonicalJson({ b: 1n })).toThrow(/bigint/);
    expect(() => canonicalJson({ d: new Date(0) })).toThrow(/plain objects/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/cycle/);
  });

  it('accepts the same object twice when it is not a cycle', () => {
    const shared = { k: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"k":1},"b":{"k":1}}');
  });
});
