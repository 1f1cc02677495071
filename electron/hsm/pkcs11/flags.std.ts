import type { PinState, SlotFlags, TokenFlags } from '../../../shared/tokens.std';

/**
 * CK_SLOT_INFO / CK_TOKEN_INFO flag bits (PKCS#11 v2.40 §3.2), decoded into named booleans so
 * the UI never tests bits. Values are the spec's; kept here so this file stays pure.
 */
const SLOT = { tokenPresent: 0x1, removableDevice: 0x2, hardwareSlot: 0x4 } as const;

const TOKEN = {
  rng: 0x1,
  writeProtected: 0x2,
  loginRequired: 0x4,
  userPinInitialized: 0x8,
  restoreKeyNotNeeded: 0x20,
  clockOnToken: 0x40,
  protectedAuthenticationPath: 0x100,
  dualCryptoOperations: 0x200,
  tokenInitialized: 0x400,
  secondaryAuthentication: 0x800,
  userPinCountLow: 0x10000,
  userPinFinalTry: 0x20000,
  userPinLocked: 0x40000,
  userPinToBeChanged: 0x80000,
  soPinCountLow: 0x100000,
  soPinFinalTry: 0x200000,
  soPinLocked: 0x400000,
  soPinToBeChanged: 0x800000,
  errorState: 0x1000000,
} as const;

function decode<T extends Record<string, number>>(bits: T, flags: number): { [K in keyof T]: boolean } {
  const out = {} as { [K in keyof T]: boolean };
  // Flags fit in 32 bits; `>>> 0` keeps the test unsigned.
  for (const key of Object.keys(bits) as (keyof T)[]) out[key] = ((flags >>> 0) & bits[key]!) !== 0;
  return out;
}

export function decodeSlotFlags(flags: number): SlotFlags {
  return decode(SLOT, flags);
}

export function decodeTokenFlags(flags: number): TokenFlags {
  return decode(TOKEN, flags);
}

/** The PIN retry state the token shows for the user (or SO) PIN. */
export function pinStateOf(flags: TokenFlags, userType: 'user' | 'so'): PinState {
  return userType === 'so'
    ? { countLow: flags.soPinCountLow, finalTry: flags.soPinFinalTry, locked: flags.soPinLocked }
    : { countLow: flags.userPinCountLow, finalTry: flags.userPinFinalTry, locked: flags.userPinLocked };
}

/** CK_VERSION as "major.minor" with the minor zero-padded as vendors print it ("2.40", "2.6"). */
export function versionString(v: { major: number; minor: number }): string {
  return `${v.major}.${v.minor}`;
}

/** Fixed-width, blank-padded CK_UTF8CHAR fields. */
export function trimPadded(s: string): string {
  return s.replace(/[\s\0]+$/u, '');
}

/** CK_UNAVAILABLE_INFORMATION (~0) and CK_EFFECTIVELY_INFINITE (0) are not counts. */
export function countOrNull(n: number): number | null {
  return n >= 0xffffffff || !Number.isFinite(n) ? null : n;
}
