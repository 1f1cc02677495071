import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ERROR_SENTENCES, MkmError, isErrorCode } from '../../../shared/errors.std';
import { CKR_TABLE, ckrByName, ckrByValue, ckrName, toMkmError } from '../../../electron/hsm/pkcs11/ckr.std';

const require = createRequire(import.meta.url);
const pkcs11js = require('pkcs11js') as Record<string, unknown> & {
  Pkcs11Error: new (message: string, code?: number, method?: string) => Error & { code: number };
  NativeError: new (message: string, method?: string) => Error;
};

// The v2.40 header pkcs11js is built against: the authoritative list of names and values.
const header = readFileSync(require.resolve('pkcs11js/includes/pkcs11/pkcs11t.h'), 'utf8');
const HEADER_CKR = [...header.matchAll(/#define\s+(CKR_[A-Z0-9_]+)\s+0x([0-9A-Fa-f]+)UL/g)].map((m) => ({
  name: m[1]!,
  value: parseInt(m[2]!, 16),
}));

// Added by PKCS#11 v3.0 (and v3.1's KEY_EXHAUSTED) over v2.40.
const V3_CKR = [
  { name: 'CKR_AEAD_DECRYPT_FAILED', value: 0x42 },
  { name: 'CKR_TOKEN_RESOURCE_EXCEEDED', value: 0x201 },
  { name: 'CKR_OPERATION_CANCEL_FAILED', value: 0x202 },
  { name: 'CKR_KEY_EXHAUSTED', value: 0x203 },
];

describe('CKR table', () => {
  it('has unique values and unique names', () => {
    expect(new Set(CKR_TABLE.map((e) => e.value)).size).toBe(CKR_TABLE.length);
    expect(new Set(CKR_TABLE.map((e) => e.name)).size).toBe(CKR_TABLE.length);
  });

  it('covers every CKR code of the v2.40 header with its exact value', () => {
    expect(HEADER_CKR.length).toBeGreaterThan(90);
    for (const { name, value } of HEADER_CKR) {
      expect(ckrByName(name)?.value, name).toBe(value);
      expect(ckrByValue(value)?.name, name).toBe(name);
    }
  });

  it('covers the v3.0 additions', () => {
    for (const { name, value } of V3_CKR) expect(ckrByValue(value)?.name).toBe(name);
  });

  it('agrees with the constants pkcs11js exports', () => {
    const exported = Object.entries(pkcs11js).filter(
      ([k, v]) => k.startsWith('CKR_') && typeof v === 'number',
    );
    expect(exported.length).toBeGreaterThan(80);
    for (const [name, value] of exported) expect(ckrByName(name)?.value, name).toBe(value);
  });

  it('maps every code to a known ErrorCode with a sentence, and never quotes a CKR name to the admin', () => {
    for (const e of CKR_TABLE) {
      expect(isErrorCode(e.code), e.name).toBe(true);
      expect(e.sentence.length, e.name).toBeGreaterThan(10);
      expect(e.sentence).not.toMatch(/CKR_|0x/);
    }
  });

  it.each([
    ['CKR_PIN_INCORRECT', 'PIN_INCORRECT'],
    ['CKR_PIN_LOCKED', 'PIN_LOCKED'],
    ['CKR_TOKEN_NOT_PRESENT', 'TOKEN_REMOVED'],
    ['CKR_DEVICE_REMOVED', 'TOKEN_REMOVED'],
    ['CKR_SESSION_HANDLE_INVALID', 'SESSION_CLOSED'],
    ['CKR_SESSION_CLOSED', 'SESSION_CLOSED'],
    ['CKR_MECHANISM_INVALID', 'MECHANISM_UNSUPPORTED'],
    ['CKR_OBJECT_HANDLE_INVALID', 'KEY_NOT_FOUND'],
    ['CKR_DEVICE_MEMORY', 'TOKEN_FULL'],
    ['CKR_USER_NOT_LOGGED_IN', 'NOT_LOGGED_IN'],
    ['CKR_PIN_LEN_RANGE', 'PIN_LEN_RANGE'],
    ['CKR_KEY_UNEXTRACTABLE', 'KEY_NOT_EXTRACTABLE'],
    ['CKR_KEY_FUNCTION_NOT_PERMITTED', 'KEY_NOT_PERMITTED'],
    ['CKR_WRAPPED_KEY_INVALID', 'KEY_UNWRAPPABLE'],
    ['CKR_SIGNATURE_INVALID', 'SIGNATURE_INVALID'],
    ['CKR_CRYPTOKI_NOT_INITIALIZED', 'NO_MODULE'],
  ])('maps %s to %s', (name, code) => {
    expect(ckrByName(name)?.code).toBe(code);
  });
});

describe('toMkmError', () => {
  it('converts a pkcs11js Pkcs11Error as the native layer raises it, keeping the raw code for support', () => {
    // pkcs11js builds its error from the native stack text "CKR_NAME:value\n    at PKCS11.C_Fn (...)".
    const raw = new pkcs11js.Pkcs11Error('CKR_PIN_INCORRECT:160\n    at PKCS11.C_Login (src/pkcs11.cpp:1)');
    expect(raw.message).toBe('CKR_PIN_INCORRECT');
    const err = toMkmError(raw);
    expect(err).toBeInstanceOf(MkmError);
    expect(err.code).toBe('PIN_INCORRECT');
    expect(err.message).toBe('The PIN is incorrect.');
    expect(err.details).toEqual({ ckr: 'CKR_PIN_INCORRECT', ckrValue: 0xa0, fn: 'C_Login' });
  });

  it('uses the numeric code when the message only has the name', () => {
    const err = toMkmError(Object.assign(new Error('CKR_DEVICE_REMOVED'), { code: 0x32 }), { fn: 'C_Sign' });
    expect(err.code).toBe('TOKEN_REMOVED');
    expect(err.details).toMatchObject({ ckr: 'CKR_DEVICE_REMOVED', ckrValue: 0x32, fn: 'C_Sign' });
  });

  it('keeps a vendor-defined code and calls it PKCS11_ERROR', () => {
    const raw = new pkcs11js.Pkcs11Error('CKR_VENDOR_DEFINED:2147483665');
    const err = toMkmError(raw);
    expect(err.code).toBe('PKCS11_ERROR');
    expect(err.details).toMatchObject({ ckrValue: 0x80000011, ckr: 'CKR_VENDOR_DEFINED+0x11' });
    expect(ckrName(0x80000011)).toBe('CKR_VENDOR_DEFINED+0x11');
  });

  it('keeps an unknown future code by number', () => {
    const err = toMkmError(new pkcs11js.Pkcs11Error('CKR_SOMETHING_NEW:516'));
    expect(err.code).toBe('PKCS11_ERROR');
    expect(err.details).toMatchObject({ ckr: 'CKR_SOMETHING_NEW', ckrValue: 516 });
  });

  it('drops the message of a non-PKCS#11 error: it may quote secrets', () => {
    const err = toMkmError(new pkcs11js.NativeError('bad input 4111111111111111 pin=1234'));
    expect(err.code).toBe('INTERNAL');
    expect(err.message).toBe(ERROR_SENTENCES.INTERNAL);
    expect(JSON.stringify(err.toShape())).not.toMatch(/4111|1234/);
  });

  it('passes an MkmError through unchanged', () => {
    const original = new MkmError('CONFIRMATION_REQUIRED');
    expect(toMkmError(original)).toBe(original);
  });
});
