import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  decodeBase64,
  decodeHex,
  detectEncoding,
  encodeBase64,
  encodeHex,
  parseBase64,
  parseHex,
} from '../../../shared/formats/encoding.std';
import { MkmError } from '../../../shared/errors.std';

const bytes = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('base64', () => {
  // RFC 4648 section 10 test vectors.
  it.each([
    ['', ''],
    ['f', 'Zg=='],
    ['fo', 'Zm8='],
    ['foo', 'Zm9v'],
    ['foob', 'Zm9vYg=='],
    ['fooba', 'Zm9vYmE='],
    ['foobar', 'Zm9vYmFy'],
  ])('RFC 4648: %j <-> %s', (plain, b64) => {
    expect(encodeBase64(new TextEncoder().encode(plain))).toBe(b64);
    if (b64) expect(Buffer.from((parseBase64(b64) as { bytes: Uint8Array }).bytes).toString()).toBe(plain);
  });

  it('agrees with Node Buffer on random data of every length mod 3', () => {
    for (let n = 1; n < 300; n++) {
      const data = randomBytes(n);
      const b64 = encodeBase64(data);
      expect(b64).toBe(data.toString('base64'));
      const parsed = parseBase64(b64);
      expect(parsed.ok && bytes(parsed.bytes)).toBe(data.toString('hex'));
    }
  });

  it.each([
    ['', { kind: 'empty' }],
    ['QUJD RA==', { kind: 'whitespace', index: 4 }],
    ['QUJD\nRA==', { kind: 'whitespace', index: 4 }],
    ['QUJDRA==\n', { kind: 'whitespace', index: 8 }],
    ['ab-_', { kind: 'base64url', index: 2 }],
    ['QUJ!RA==', { kind: 'bad_character', index: 3, char: "'!' (U+0021)" }],
    ['QUJDé===', { kind: 'bad_character', index: 4, char: 'U+00E9' }],
    ['QQ=A', { kind: 'bad_padding', index: 2, reason: 'misplaced' }],
    ['QQ', { kind: 'bad_padding', index: 2, reason: 'missing' }],
    ['QUI', { kind: 'bad_padding', index: 3, reason: 'missing' }],
    ['QUJD=', { kind: 'bad_padding', index: 4, reason: 'too_much' }],
    ['QUI==', { kind: 'bad_padding', index: 4, reason: 'too_much' }],
    ['Q===', { kind: 'bad_padding', index: 1, reason: 'too_much' }],
    ['QUJDR', { kind: 'bad_length', length: 5 }],
    ['QR==', { kind: 'bad_padding', index: 1, reason: 'nonzero_bits' }],
    ['QUJ=', { kind: 'bad_padding', index: 2, reason: 'nonzero_bits' }],
  ])('refuses %j precisely', (text, issue) => {
    const r = parseBase64(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issue).toEqual(issue);
  });

  it('says where the problem is, counting from 1, in the message', () => {
    const r = parseBase64('QUJ!RA==');
    expect(!r.ok && r.message).toBe("bad character '!' (U+0021) at position 4");
  });

  it('recognises a PEM pasted as a value', () => {
    const r = parseBase64('-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----');
    expect(!r.ok && r.issue).toEqual({ kind: 'pem', label: 'PUBLIC KEY' });
  });

  it('checks the decoded length', () => {
    const iv = randomBytes(16).toString('base64');
    expect(parseBase64(iv, { length: 16 }).ok).toBe(true);
    const r = parseBase64(iv, { length: [32, 64] });
    expect(!r.ok && r.issue).toEqual({ kind: 'wrong_length', expected: [32, 64], actual: 16 });
    expect(!r.ok && r.message).toBe('wrong length: 16 bytes, expected 32 or 64');
  });

  it('flags double encoding (base64 of base64, base64 of hex)', () => {
    const key = randomBytes(32);
    const once = key.toString('base64');
    const twice = Buffer.from(once).toString('base64');
    expect(parseBase64(once)).toMatchObject({ ok: true, inner: null });
    expect(parseBase64(twice)).toMatchObject({ ok: true, inner: 'base64' });
    expect(parseBase64(Buffer.from(key.toString('hex')).toString('base64'))).toMatchObject({ inner: 'hex' });
  });

  it('throws a typed error with the reason and position only', () => {
    try {
      decodeBase64('QUJ!RA==', 'iv');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(MkmError);
      expect((e as MkmError).code).toBe('ENCODING_INVALID');
      expect((e as MkmError).message).toBe("iv: bad character '!' (U+0021) at position 4");
      expect((e as MkmError).details).toEqual({ reason: 'bad_character', index: 3 });
    }
  });
});

describe('hex', () => {
  it('round-trips with Node', () => {
    const data = randomBytes(40);
    expect(encodeHex(data)).toBe(data.toString('hex'));
    expect(bytes(decodeHex(data.toString('hex').toUpperCase()))).toBe(data.toString('hex'));
  });

  it.each([
    ['', { kind: 'empty' }],
    ['0xab', { kind: 'hex_prefix' }],
    ['abc', { kind: 'odd_length', length: 3 }],
    ['ab cd', { kind: 'whitespace', index: 2 }],
    ['ab:cd', { kind: 'bad_character', index: 2, char: "':' (U+003A)" }],
    ['abgd', { kind: 'bad_character', index: 2, char: "'g' (U+0067)" }],
  ])('refuses %j precisely', (text, issue) => {
    const r = parseHex(text);
    expect(!r.ok && r.issue).toEqual(issue);
  });

  it('can insist on lowercase and an exact length (KCVs, fingerprints)', () => {
    expect(parseHex('a1b2c3', { lowercase: true, length: 3 }).ok).toBe(true);
    expect(parseHex('a1B2c3', { lowercase: true }) as unknown).toMatchObject({
      ok: false,
      issue: { kind: 'uppercase', index: 2 },
    });
    expect(parseHex('a1b2c3d4', { length: 3 })).toMatchObject({ ok: false, issue: { kind: 'wrong_length' } });
  });
});

describe('detectEncoding', () => {
  it('tells the troubleshooter what a value is', () => {
    const data = randomBytes(256);
    expect(detectEncoding(data.toString('base64'))).toMatchObject({
      kind: 'base64',
      bytes: 256,
      whitespace: false,
    });
    expect(detectEncoding(data.toString('base64').replace(/(.{64})/g, '$1\n'))).toMatchObject({
      kind: 'base64',
      bytes: 256,
      whitespace: true,
    });
    expect(detectEncoding(data.toString('base64url'))).toMatchObject({ kind: 'base64url', bytes: 256 });
    expect(detectEncoding(data.toString('hex'))).toMatchObject({ kind: 'hex', bytes: 256 });
    expect(detectEncoding('-----BEGIN CERTIFICATE-----\nMIIB')).toMatchObject({
      kind: 'pem',
      pemLabel: 'CERTIFICATE',
    });
    expect(detectEncoding(Buffer.from(data.toString('base64')).toString('base64'))).toMatchObject({
      kind: 'base64',
      inner: 'base64',
    });
    const unknown = detectEncoding('not*base64');
    expect(unknown.kind).toBe('unknown');
    expect(unknown.base64Issue).toContain('position 4');
  });
});
