import { describe, expect, it } from 'vitest';
import { redact, redactString } from '../../../shared/redact.std';

describe('redaction', () => {
  it('hides secret fields by name, wherever they sit', () => {
    const out = JSON.stringify(
      redact({
        pin: '123456',
        soPin: '87654321',
        nested: { cvv: '123', card_number: '4111111111111111' },
        label: 'ok',
      }),
    );
    for (const secret of ['123456', '87654321', '"123"', '4111111111111111'])
      expect(out).not.toContain(secret);
    expect(out).toContain('"label":"ok"');
  });

  it('hides PANs, long hex and base64 and private keys inside free text', () => {
    const text = redactString(
      'card 4111 1111 1111 1111 key 000102030405060708090a0b0c0d0e0f1011 b64 ' +
        'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5eg== pin=4321 ' +
        '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----',
    );
    expect(text).not.toMatch(/4111|0a0b0c|QUJDREVG|4321|MIIE/);
  });

  it('keeps sentences about PINs readable', () => {
    expect(redactString('The PIN is incorrect.')).toBe('The PIN is incorrect.');
    expect(redactString('cvv 737 and pin 1234')).not.toMatch(/737|1234/);
    expect(redactString('No slot 2012652515.')).toBe('No slot 2012652515.');
    expect(redactString('login failed for pin S3cr3tPin')).not.toContain('S3cr3tPin');
    expect(redactString('account 2012652515')).not.toContain('2012652515');
  });

  it('keeps identifiers that only look like secret names', () => {
    expect(redact({ serialNumber: 'abc', keyId: 'k1', kcv: 'a1b2c3' })).toEqual({
      serialNumber: 'abc',
      keyId: 'k1',
      kcv: 'a1b2c3',
    });
  });

  it('keeps a SHA-256 fingerprint under its own name, and the same hex anywhere else is redacted', () => {
    const fpr = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    expect(redact({ fingerprint: fpr, spkiSha256: fpr.toUpperCase() })).toEqual({
      fingerprint: fpr,
      spkiSha256: fpr.toUpperCase(),
    });
    // Under another name, or not plain hex, a long hex run may be a clear key.
    const out = JSON.stringify(redact({ note: fpr, fingerprint: `key ${fpr}` }));
    expect(out).not.toContain(fpr);
    expect(out).toContain('"fingerprint":"key [redacted');
  });

  it('keeps record ids whole, and a PAN beside one is still redacted', () => {
    const id = 'e0bb9d54-3741-4123-8123-412345678901';
    expect(redactString(`destroy-version ${id}`)).toBe(`destroy-version ${id}`);
    expect(redactString(`${id} pan 4111 1111 1111 1111`)).toBe(`${id} pan [redacted 16 digits]`);
  });

  it('leaves file names whole: audit quarantine and torn files (any random part), dated reports', () => {
    // Random parts start with a letter, and a calendar date is not a card number.
    for (const name of [
      'quarantine-2026-11-23T23-18-51-241Z-r60017022',
      'audit.torn-seq12-2026-11-23T23-18-51-241Z-r12345678.bin',
      'pci-report-2026-11-23.pdf',
    ]) {
      expect(redactString(name)).toBe(name);
    }
  });

  it('survives cycles, buffers and errors', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    const error = new Error('failed for pan 5555555555554444');
    const out = JSON.stringify(redact({ a, buf: Buffer.from('secret'), error }));
    expect(out).toContain('[cycle]');
    expect(out).not.toContain('5555555555554444');
    expect(out).not.toContain('secret');
  });
});
