import { describe, expect, it } from 'vitest';
import { CKR_TABLE, probeReason } from '../../../electron/hsm/pkcs11/ckr.std';
import { MkmError } from '../../../shared/errors.std';
import { initFailureMessage, keyTemplateRefused } from '../../../electron/hsm/pkcs11/token-engine/errors.std';
import { keyTypeName, HMAC_SHA256_KEY_TYPES } from '../../../electron/hsm/pkcs11/objects.host';

describe("the probe's reasons", () => {
  it('are in words for every CKR a token can answer, never a raw name', () => {
    for (const { name } of CKR_TABLE) {
      const reason = probeReason(name);
      expect(reason, name).toMatch(/^the token/);
      expect(reason, name).not.toMatch(/CKR_|0x/);
    }
    expect(probeReason(undefined)).toBe('the token refused it');
  });
});

describe('a library that does not start', () => {
  const bad = new MkmError('INTERNAL', 'The app sent the token a malformed request.', {
    ckr: 'CKR_ARGUMENTS_BAD',
  });

  it('names its CKR code and says it may need initialisation parameters', () => {
    const m = initFailureMessage(bad, false);
    expect(m).toContain('C_Initialize answered CKR_ARGUMENTS_BAD');
    expect(m).toContain('This library may need initialisation parameters');
    expect(m).toContain('--module-params');
    // The usual sentence blames the app, which is wrong here.
    expect(m).not.toContain('malformed request');
  });

  it('says the parameters were refused when some were given', () => {
    expect(initFailureMessage(bad, true)).toContain('refused its initialisation parameters');
  });

  it('passes other answers on with their sentence', () => {
    const e = new MkmError('FUNCTION_FAILED', 'The token library reported an unrecoverable error.', {
      ckr: 'CKR_GENERAL_ERROR',
    });
    expect(initFailureMessage(e, false)).toContain(
      '(C_Initialize answered CKR_GENERAL_ERROR). The token library reported an unrecoverable error.',
    );
  });
});

describe('a key template the token refuses', () => {
  it('names the usages it insists on, in words, and keeps them for scripts', () => {
    const e = keyTemplateRefused(
      ['private:decrypt', 'private:sign', 'public:verify'],
      new MkmError('FUNCTION_FAILED', undefined, { ckr: 'CKR_GENERAL_ERROR' }),
    );
    expect(e.code).toBe('KEY_TEMPLATE_REFUSED');
    expect(e.message).toContain(
      'it insists on decrypt on the private key, sign on the private key, verify on the public key',
    );
    expect(e.message).toContain('--accept-wider-usage');
    expect(e.details).toEqual({
      refused: ['private:decrypt', 'private:sign', 'public:verify'],
      ckr: 'CKR_GENERAL_ERROR',
    });
  });
});

describe('key types', () => {
  it('knows the PKCS#11 3.0 key types, CKK_SHA256_HMAC among the HMAC-SHA256 ones', () => {
    expect(keyTypeName(0x2b)).toBe('sha256-hmac');
    expect(HMAC_SHA256_KEY_TYPES).toContain(keyTypeName(0x2b));
    expect(HMAC_SHA256_KEY_TYPES).toContain(keyTypeName(0x10));
    expect(keyTypeName(0x40)).toBe('ec-edwards');
    expect(keyTypeName(0x45)).toBe('sha512-t-hmac');
    expect(keyTypeName(0x80000001)).toBe('vendor-0x80000001');
  });
});
