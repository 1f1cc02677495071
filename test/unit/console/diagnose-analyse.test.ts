import { describe, expect, it } from 'vitest';
import {
  classify,
  decodeField,
  lengthFindings,
  shapeOfClear,
  shapeOfText,
  sortFindings,
  wrongIvShape,
  finding,
} from '../../../electron/console/diagnose/analyse.std';
import { FAILURE_CODES, FAILURE_MODES } from '../../../electron/console/diagnose/failure-modes.std';

/** The troubleshooter's pure half: classification, forgiving decoding, lengths, shapes. */

const bytes = (n: number, seed = 7) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
const codes = (fs: { code: string }[]) => fs.map((f) => f.code);

describe('the failure-mode table', () => {
  it('gives every row a title, a way to recognise it, an explanation and a fix', () => {
    for (const code of FAILURE_CODES) {
      const row = FAILURE_MODES[code];
      for (const text of [row.title, row.recognise, row.explanation, row.fix])
        expect(text.length, code).toBeGreaterThan(10);
    }
  });
});

describe('classify', () => {
  it('takes a PayTrace body apart into its encrypted fields', () => {
    const c = classify(
      JSON.stringify({ amount: 1, credit_card: { encrypted_number: 'AAAA' }, encrypted_csc: 'BBBB' }),
    );
    expect(c.kind).toBe('cse-body');
    expect(c.fields.map((f) => [f.path, f.cseName])).toEqual([
      ['credit_card.encrypted_number', 'encrypted_number'],
      ['encrypted_csc', 'encrypted_csc'],
    ]);
  });

  it('reads a verify body with its padding and key_id', () => {
    const c = classify(
      JSON.stringify({
        padding: 'RSAES-OAEP-SHA256',
        key_id: 'gk_1',
        salt: 'x',
        fields: { encrypted_number: 'AAAA' },
      }),
    );
    expect(c).toMatchObject({ kind: 'verify-body', padding: 'RSAES-OAEP-SHA256', keyId: 'gk_1' });
  });

  it('tells a request envelope from a response', () => {
    expect(classify('{"set_id":"s","ciphertext":"AA==","mac":"AA=="}').kind).toBe('envelope');
    expect(classify('{"set_id":"s","iv":"AA==","ciphertext":"AA==","mac":"AA=="}').kind).toBe(
      'envelope-response',
    );
  });

  it('refuses to look into a private key, PEM or JWK, and says so', () => {
    const pem = classify('-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----');
    expect(pem.kind).toBe('pem-private');
    expect(codes(pem.findings)).toEqual(['PEM_PRIVATE_KEY']);
    expect(JSON.stringify(pem)).not.toContain('MIIB');
    expect(codes(classify('{"kty":"RSA","n":"x","e":"AQAB","d":"secret"}').findings)).toEqual([
      'PEM_PRIVATE_KEY',
    ]);
  });

  it('unquotes and unescapes a value copied out of JSON source', () => {
    const value = b64(bytes(256));
    const c = classify(JSON.stringify(value).replace(/\//g, '\\/'));
    expect(codes(c.findings)).toEqual(['QUOTED_OR_ESCAPED']);
    expect(c.fields[0]!.text).toBe(value);
  });

  it('shows a clear card number by its shape only', () => {
    const c = classify('4111 1111 1111 1111');
    expect(codes(c.findings)).toEqual(['CLEAR_VALUE']);
    expect(c.findings[0]!.evidence).toEqual({
      field: 'value',
      looksLike: 'card number',
      length: 16,
      last4: '1111',
      luhnOk: true,
      network: 'Visa',
    });
    expect(JSON.stringify(c)).not.toContain('411111');
  });

  it('flags a clear member in a body', () => {
    const c = classify(JSON.stringify({ credit_card: { number: '4111111111111111' } }));
    expect(codes(c.findings)).toEqual(['CLEAR_VALUE']);
  });

  it('says when there is nothing to diagnose', () => {
    expect(codes(classify('   ').findings)).toEqual(['UNRECOGNISED']);
    expect(codes(classify('{"a": 1}').findings)).toEqual(['UNRECOGNISED']);
    expect(codes(classify('{not json').findings)).toEqual(['UNRECOGNISED']);
  });
});

describe('decodeField', () => {
  const ct = bytes(256);
  const std = b64(ct);

  it('accepts strict standard base64 without a word', () => {
    const d = decodeField(std, 256);
    expect(d.findings).toEqual([]);
    expect(Buffer.from(d.bytes!).equals(Buffer.from(ct))).toBe(true);
  });

  it('names whitespace, base64url and missing padding, and still decodes', () => {
    expect(codes(decodeField(std.match(/.{1,76}/g)!.join('\r\n'), 256).findings)).toEqual(['WHITESPACE']);
    const url = decodeField(std.replace(/\+/g, '-').replace(/\//g, '_'), 256);
    expect(codes(url.findings)).toEqual(['BASE64URL']);
    expect(url.bytes!.length).toBe(256);
    const mixed = decodeField(std.replace(/\+/g, '-'), 256);
    expect(codes(mixed.findings)).toEqual(['BASE64URL']);
    expect(Buffer.from(mixed.bytes!).equals(Buffer.from(ct))).toBe(true);
    const unpadded = decodeField(std.replace(/=+$/, ''), 256);
    expect(codes(unpadded.findings)).toEqual(['MISSING_PADDING']);
  });

  it('calls a short unpadded value truncated, not merely unpadded', () => {
    for (const cut of [200, 201, 202, 203]) {
      const d = decodeField(std.slice(0, cut), 256);
      const all = [
        ...d.findings,
        ...lengthFindings(
          d.bytes?.length ?? 0,
          256,
          d.findings.some((f) => f.code === 'TRUNCATED'),
        ),
      ];
      expect(codes(all), `cut at ${cut}`).toEqual(['TRUNCATED']);
    }
  });

  it('reads hex, and an odd count of hex digits', () => {
    const hex = Buffer.from(ct).toString('hex');
    expect(codes(decodeField(hex, 256).findings)).toEqual(['HEX_NOT_BASE64']);
    expect(codes(decodeField(hex.slice(1), 256).findings)).toEqual(['HEX_ODD_LENGTH']);
  });

  it('unwraps base64 of base64 and says it was encoded twice', () => {
    const d = decodeField(Buffer.from(std).toString('base64'), 256);
    expect(codes(d.findings)).toEqual(['DOUBLE_ENCODED']);
    expect(d.bytes!.length).toBe(256);
  });

  it('gives up on text that is no encoding', () => {
    expect(codes(decodeField('not*base64', 256).findings)).toEqual(['NOT_ENCODED']);
  });
});

describe('lengthFindings', () => {
  it('names the key size a whole-size ciphertext came from', () => {
    expect(lengthFindings(128, 256, false)[0]).toMatchObject({
      code: 'WRONG_KEY_SIZE',
      evidence: { madeWithBits: 1024, expectedBits: 2048 },
    });
    expect(lengthFindings(512, 256, false)[0]).toMatchObject({
      code: 'WRONG_KEY_SIZE',
      evidence: { madeWithBits: 4096 },
    });
    expect(lengthFindings(256, 256, false)).toEqual([]);
    expect(lengthFindings(255, 256, false)[0]!.code).toBe('TRUNCATED');
  });
});

describe('shapes of decrypted values', () => {
  const enc = (s: string) => new TextEncoder().encode(s);

  it('describes card numbers, codes, routing numbers and JSON without their content', () => {
    expect(shapeOfText('4111111111111111')).toEqual({
      looksLike: 'card number',
      length: 16,
      last4: '1111',
      luhnOk: true,
      network: 'Visa',
    });
    expect(shapeOfText('4111111111111112').luhnOk).toBe(false);
    expect(shapeOfText('123')).toEqual({ looksLike: 'security code', length: 3 });
    expect(shapeOfText('021000021')).toEqual({
      looksLike: 'routing or account number',
      length: 9,
      abaOk: true,
    });
    expect(shapeOfText('{"pong":true,"x":1}')).toMatchObject({ looksLike: 'JSON', members: 'pong,x' });
  });

  it('sees a ciphertext inside a decrypted value (encrypted twice)', () => {
    expect(shapeOfClear(enc(b64(bytes(128)))).base64Bytes).toBe(128);
    expect(shapeOfClear(enc('4111111111111111')).base64Bytes).toBeNull();
    expect(shapeOfClear(Uint8Array.from([0xff, 0x00, 0x10])).readable).toBe(false);
  });

  it('recognises a CBC first block spoilt by a wrong IV', () => {
    const garbage = Uint8Array.from([
      0x9c, 0x01, 0xfe, 0x13, 0x88, 0x02, 0x7f, 0x00, 0xc3, 0x28, 0x11, 0x05, 0xaa, 0x90, 0x03, 0x04,
    ]);
    const rest = enc('"ping","note":"readable after the first block"}');
    expect(wrongIvShape(Uint8Array.from([...garbage, ...rest]))).toBe(true);
    expect(wrongIvShape(enc('{"operation":"ping","note":"all of it readable"}'))).toBe(false);
  });
});

describe('sortFindings', () => {
  it('puts errors first and keeps the order within a severity', () => {
    const sorted = sortFindings([
      finding('KEY_MATCH'),
      finding('CSE_PREVIOUS_KEY'),
      finding('TRUNCATED'),
      finding('BASE64URL'),
    ]);
    expect(codes(sorted)).toEqual(['TRUNCATED', 'BASE64URL', 'CSE_PREVIOUS_KEY', 'KEY_MATCH']);
  });
});
