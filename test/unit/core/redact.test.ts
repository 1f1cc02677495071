import { createHash, randomBytes } from 'node:crypto';
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

  it('hides magnetic-stripe data whole: track 1 and track 2, with or without sentinels', () => {
    for (const track of [
      '%B4111111111111111^DOE/JOHN^25121010000000000000?',
      'B4111111111111111^DOE/JOHN^2512101000000?',
      ';4111111111111111=25121010000000000?',
      '4111111111111111=25121010000000000',
      ';4111111111111111D25121010000000000?',
    ]) {
      const out = redactString(`swipe ${track} done`);
      expect(out, track).not.toMatch(/4111|DOE|2512101/);
      expect(out).toMatch(/^swipe \[redacted .*\] done$/);
    }
  });

  it('hides a card number inside a word, dotted, or in groups two blanks apart', () => {
    for (const text of [
      'ref_4111111111111111',
      'PAN4111111111111111',
      'order-4111111111111111x',
      '4111.1111.1111.1111',
      '4111  1111  1111  1111',
      '4111\t1111\t1111\t1111',
      'id5555555555554444end',
      '378282246310005', // a 15-digit Amex, Luhn-valid
      '4111111111111112', // Luhn or not
    ]) {
      const out = redactString(`ref ${text}`);
      expect(out, text).not.toMatch(/\d{5}/);
      expect(out, text).toContain('[redacted ');
    }
    // An account number typed with dots is a digit run like any other.
    expect(redactString('acct 000.123.456.789')).toBe('acct [redacted 12 digits]');
  });

  it('hides base64 and base64url of a card number, of a PIN sentence and of key bytes', () => {
    const pan = Buffer.from('4111111111111111');
    for (const encoded of [
      pan.toString('base64'),
      pan.toString('base64url'),
      Buffer.from('{"number":"5555555555554444"}').toString('base64url'),
      Buffer.from('pin=123456').toString('base64'),
      randomBytes(32).toString('base64url'),
      randomBytes(16).toString('base64url'),
      randomBytes(16).toString('base64'),
      randomBytes(32).toString('base64'),
      `ks_${randomBytes(16).toString('base64url')}`,
    ]) {
      const out = redactString(`value ${encoded} end`);
      expect(out, encoded).toBe('value [redacted b64] end');
    }
  });

  it('key bytes in base64 and base64url are caught: 1,000 random 32-byte keys, 1,000 fixed 16-byte ones', () => {
    for (let i = 0; i < 1000; i++) {
      const bytes = randomBytes(32);
      expect(redactString(bytes.toString('base64url'))).toBe('[redacted b64]');
      expect(redactString(bytes.toString('base64'))).toBe('[redacted b64]');
    }
    // A 16-byte key is 22 characters: about 3 in 10^4 of them read as a name (see encodedSecret),
    // so this draw is fixed rather than random.
    for (let i = 0; i < 1000; i++) {
      const bytes = createHash('sha256').update(`key ${i}`).digest().subarray(0, 16);
      expect(redactString(bytes.toString('base64url'))).toBe('[redacted b64]');
      expect(redactString(bytes.toString('base64'))).toBe('[redacted b64]');
    }
  });

  it('keeps paths, file names, identifiers and algorithm names that share the base64 alphabet', () => {
    for (const text of [
      '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
      '/usr/lib64/pkcs11/libsofthsm2.so',
      '/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so',
      '/usr/lib/libIDPrimePKCS11.so and /usr/lib/libeTPkcs11.so',
      './DestroyVersionDialog.dom',
      '/opt/mkm/node_modules/pkcs11js/build/Release/pkcs11.node',
      '/tmp/mkm-console-history-XyZ12a/console/history.json',
      'RSAES-PKCS1-V1_5 and aes-256-cbc+hmac-sha256',
      'ConsoleHistoryEntry MerchantKeyManagerSettingsFile',
      'e3b0c44298fc1c14…',
      'gk_A1b2C3d4E5f6',
      'quarantine-2026-11-23T23-18-51-241Z-r95d2318e',
    ]) {
      expect(redactString(text)).toBe(text);
    }
  });

  it('a card number under a field named kcv, label, fingerprint or key id is redacted; real references stay', () => {
    const out = redact({
      kcv: '4111111111111111',
      label: '4111111111111111',
      fingerprint: '5555555555554444',
      keyId: '378282246310005',
      setId: `ks_${Buffer.from('4111111111111111').toString('base64url')}`,
    });
    expect(JSON.stringify(out)).not.toMatch(/\d{8}|NDEx/);
    const fpr = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    const refs = {
      kcv: 'a1b2c3',
      fingerprint: fpr,
      spkiSha256: '0123456789012345678901234567890123456789012345678901234567890123',
      setId: 'ks_P_gFI9U4KAuKXu_-NyCxUA',
      keyId: 'gk_A1b2C3d4E5f6',
    };
    expect(redact(refs)).toEqual(refs);
  });

  it("the app's own sentences about the PIN stay whole; a PIN after a colon does not", () => {
    for (const sentence of [
      'No PIN: set MKM_PIN or run mkm in a terminal to be asked for it.',
      'Enter the PIN: this token has no PIN pad.',
    ]) {
      expect(redactString(sentence)).toBe(sentence);
    }
    for (const [text, secret] of [
      ['pin: 1234', '1234'],
      ['PIN: set', 'set'], // a prose word with nothing after it is a value
      ['password: letmein now', 'letmein'],
      ['password: set1 MKM', 'set1'],
      ['PIN:set MKM_PIN', 'set'],
    ] as const) {
      expect(redactString(text), text).not.toContain(` ${secret}`);
      expect(redactString(text), text).toContain('[redacted]');
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
