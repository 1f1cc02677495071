/**
 * DES keys as TDES uses them (issue 11 point 3). Each byte of a DES key holds 7 key bits and,
 * in its lowest bit, a parity bit that DES ignores; by convention every byte has odd parity, so
 * a byte of even parity in a typed component is a mistyped digit, caught before its KCV.
 * Because the parity bits are no part of the key, every comparison here ignores them: two keys
 * that differ only in parity bits are the same DES key.
 * Pure and allocation-light: these functions run on clear components, so they read in place
 * and copy nothing.
 */

const DES_KEY_BYTES = 8;
const KEY_BITS = 0xfe;

function oddParity(byte: number): boolean {
  let x = byte ^ (byte >> 4);
  x ^= x >> 2;
  x ^= x >> 1;
  return (x & 1) === 1;
}

/**
 * The 1-based positions of the bytes of even (wrong) parity, so a screen can name them
 * ("byte 3, digits 5 and 6") without showing a digit. Empty when every byte is odd.
 */
export function evenParityBytes(key: Uint8Array): number[] {
  const wrong: number[] = [];
  for (let i = 0; i < key.length; i++) if (!oddParity(key[i]!)) wrong.push(i + 1);
  return wrong;
}

/**
 * Sets odd parity on every byte, in place (no copy of the key is made), as payment HSMs do to a
 * key formed from components: an XOR of an even number of odd-parity components has even parity.
 */
export function setOddParity(key: Uint8Array): Uint8Array {
  for (let i = 0; i < key.length; i++) {
    const bits = key[i]! & KEY_BITS;
    key[i] = oddParity(bits) ? bits : bits | 1;
  }
  return key;
}

/** True when the key bits (parity ignored) are all zero. */
export function keyBitsZero(key: Uint8Array): boolean {
  let acc = 0;
  for (const b of key) acc |= b & KEY_BITS;
  return acc === 0;
}

/** Same DES key: the two 8-byte parts at these offsets are equal once parity bits are ignored. */
function sameDesKey(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number): boolean {
  let diff = 0;
  for (let i = 0; i < DES_KEY_BYTES; i++) diff |= (a[aAt + i]! ^ b[bAt + i]!) & KEY_BITS;
  return diff === 0;
}

/** Two keys (of any type) equal in their key bits; `desParity` ignores the parity bits. */
export function sameKeyBits(a: Uint8Array, b: Uint8Array, desParity: boolean): boolean {
  if (a.length !== b.length) return false;
  const mask = desParity ? KEY_BITS : 0xff;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i]! ^ b[i]!) & mask;
  return diff === 0;
}

// FIPS 74 section 3.6: the 4 weak keys (encryption is its own inverse) and the 6 pairs of
// semi-weak keys (one undoes the other), with odd parity as published.
const WEAK_AND_SEMI_WEAK = [
  '0101010101010101',
  'fefefefefefefefe',
  'e0e0e0e0f1f1f1f1',
  '1f1f1f1f0e0e0e0e',
  '011f011f010e010e',
  '1f011f010e010e01',
  '01e001e001f101f1',
  'e001e001f101f101',
  '01fe01fe01fe01fe',
  'fe01fe01fe01fe01',
  '1fe01fe00ef10ef1',
  'e01fe01ff10ef10e',
  '1ffe1ffe0efe0efe',
  'fe1ffe1ffe0efe0e',
  'e0fee0fef1fef1fe',
  'fee0fee0fef1fef1',
].map((hex) =>
  Uint8Array.from({ length: DES_KEY_BYTES }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16)),
);

/** The 8-byte DES key at `at` is one of the weak or semi-weak keys (parity ignored). */
export function isWeakDesKey(key: Uint8Array, at = 0): boolean {
  return WEAK_AND_SEMI_WEAK.some((weak) => sameDesKey(key, at, weak, 0));
}

export type TdesWeakness = 'single-des' | 'weak-des';

/**
 * Why a TDES key (16 bytes: 2-key, 24 bytes: 3-key) is not the TDES it claims to be, or null.
 * `single-des`: K1 = K2 (2-key), or K1 = K2 or K2 = K3 (3-key): encrypt-decrypt-encrypt then
 * collapses to one DES. A 3-key with K1 = K3 is 2-key TDES in effect, still two DES keys, and
 * is accepted. `weak-des`: one of its DES keys is weak or semi-weak.
 */
export function tdesWeakness(key: Uint8Array): TdesWeakness | null {
  if (key.length !== 16 && key.length !== 24) throw new RangeError('TDES key must be 16 or 24 bytes');
  if (sameDesKey(key, 0, key, 8)) return 'single-des';
  if (key.length === 24 && sameDesKey(key, 8, key, 16)) return 'single-des';
  for (let at = 0; at < key.length; at += DES_KEY_BYTES) if (isWeakDesKey(key, at)) return 'weak-des';
  return null;
}
