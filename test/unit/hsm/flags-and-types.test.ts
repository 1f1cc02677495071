import { describe, expect, it } from 'vitest';
import {
  countOrNull,
  decodeSlotFlags,
  decodeTokenFlags,
  pinStateOf,
  trimPadded,
} from '../../../electron/hsm/pkcs11/flags.std';
import {
  CipherParamsSchema,
  ImportKeyParamsSchema,
  LoginParamsSchema,
  ObjectIdSchema,
  UnwrapKeyParamsSchema,
} from '../../../shared/tokens.std';
import {
  wellKnownModuleCandidates,
  wellKnownModules,
} from '../../../electron/hsm/pkcs11/well-known-modules.nodejs';

describe('token and slot flags', () => {
  it('decodes CK_TOKEN_INFO flags by their spec values', () => {
    // SoftHSM2's freshly initialized token: RNG | LOGIN_REQUIRED | USER_PIN_INITIALIZED |
    // RESTORE_KEY_NOT_NEEDED | TOKEN_INITIALIZED
    const f = decodeTokenFlags(0x1 | 0x4 | 0x8 | 0x20 | 0x400);
    expect(f).toMatchObject({
      rng: true,
      loginRequired: true,
      userPinInitialized: true,
      restoreKeyNotNeeded: true,
      tokenInitialized: true,
      writeProtected: false,
      protectedAuthenticationPath: false,
      userPinLocked: false,
    });
    const pins = decodeTokenFlags(0x10000 | 0x20000 | 0x40000 | 0x400000 | 0x1000000);
    expect(pinStateOf(pins, 'user')).toEqual({ countLow: true, finalTry: true, locked: true });
    expect(pinStateOf(pins, 'so')).toEqual({ countLow: false, finalTry: false, locked: true });
    expect(pins.errorState).toBe(true);
    expect(decodeTokenFlags(0x100).protectedAuthenticationPath).toBe(true);
  });

  it('decodes slot flags', () => {
    expect(decodeSlotFlags(0x3)).toEqual({ tokenPresent: true, removableDevice: true, hardwareSlot: false });
  });

  it('trims blank-padded PKCS#11 strings and treats unavailable counts as null', () => {
    expect(trimPadded('SoftHSM project                 ')).toBe('SoftHSM project');
    expect(countOrNull(2 ** 64 - 1)).toBeNull();
    expect(countOrNull(0xffffffff)).toBeNull();
    expect(countOrNull(3)).toBe(3);
  });
});

describe('contract schemas', () => {
  it('normalizes object IDs to lowercase hex and refuses odd or non-hex IDs', () => {
    expect(ObjectIdSchema.parse('ABcd')).toBe('abcd');
    expect(ObjectIdSchema.parse('')).toBe('');
    expect(ObjectIdSchema.safeParse('abc').success).toBe(false);
    expect(ObjectIdSchema.safeParse('zz').success).toBe(false);
  });

  it('refuses a non-base64 payload, an unknown mechanism and a short import key', () => {
    expect(
      CipherParamsSchema.safeParse({ slotId: 1, id: 'aa', mechanism: 'AES_CBC_PAD', data: 'not base64!' })
        .success,
    ).toBe(false);
    expect(
      CipherParamsSchema.safeParse({ slotId: 1, id: 'aa', mechanism: 'DES_ECB', data: '' }).success,
    ).toBe(false);
    expect(
      ImportKeyParamsSchema.safeParse({
        slotId: 1,
        type: 'aes-256',
        label: 'x',
        purpose: 'data',
        keyHex: '00'.repeat(16),
      }).success,
    ).toBe(false);
  });

  it('requires an explicit token flag on unwrap, and allows a PIN-less login (PIN pad)', () => {
    const base = {
      slotId: 1,
      unwrappingKeyId: 'aa',
      mechanism: 'RSA_OAEP_SHA1',
      wrapped: 'AAAA',
      keyType: 'aes-256',
      label: 'x',
    };
    expect(UnwrapKeyParamsSchema.safeParse(base).success).toBe(false);
    expect(UnwrapKeyParamsSchema.safeParse({ ...base, token: false }).success).toBe(true);
    expect(LoginParamsSchema.parse({ slotId: 7 })).toEqual({ slotId: 7 });
  });
});

describe('well-known modules', () => {
  it('lists candidates per OS and keeps only those that exist', () => {
    expect(wellKnownModuleCandidates('freebsd')).toEqual([]);
    const present = new Set([
      '/usr/lib/softhsm/libsofthsm2.so',
      '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so',
    ]);
    const found = wellKnownModules('linux', (p) => present.has(p));
    // OpenSC also serves Nitrokey: one entry per file.
    expect(found.map((m) => m.path).sort()).toEqual([...present].sort());
    expect(wellKnownModuleCandidates('darwin').every((m) => m.path.startsWith('/'))).toBe(true);
    expect(wellKnownModuleCandidates('win32').every((m) => /^C:\\/.test(m.path))).toBe(true);
  });
});
