import { constants, privateDecrypt, type KeyObject } from 'node:crypto';
import { MkmError } from '../../shared/errors.std';

/**
 * Explicit PKCS#1 v1.5 decryption (RFC 8017 section 7.2.2) over a raw RSA result.
 *
 * Node 20 refuses privateDecrypt with RSA_PKCS1_PADDING (CVE-2023-46809), and OpenSSL 3.2+
 * answers a bad padding with a random "implicit rejection" message instead of an error. The
 * contract wants a decrypted/failed answer per field, so we decrypt without padding and check
 * EM = 0x00 || 0x02 || PS (>= 8 nonzero bytes) || 0x00 || M ourselves. The scan touches every
 * byte and branches on nothing it reads, so its timing does not say which check failed (the
 * Bleichenbacher oracle). JavaScript promises no constant time; this removes the obvious leaks.
 * The one answer a caller gets on any failure is the same generic error.
 */

const MIN_PS = 8;

/** 1 when a === b, else 0, for bytes. */
function eqMask(a: number, b: number): number {
  return (((a ^ b) - 1) >>> 31) & 1;
}

/** 1 when a >= b, else 0, for non-negative 31-bit ints. */
function geMask(a: number, b: number): number {
  return 1 - (((a - b) >>> 31) & 1);
}

/** a when bit is 1, else b. */
function select(bit: number, a: number, b: number): number {
  const m = -bit;
  return (a & m) | (b & ~m);
}

export interface Unpadded {
  ok: boolean;
  /** Where M starts in EM; meaningful only when ok. */
  start: number;
}

/** Checks an encoded message EM (exactly k bytes, as raw RSA returns it) without early exits. */
export function checkPkcs1v15Padding(em: Uint8Array): Unpadded {
  let good = eqMask(em[0] ?? 1, 0x00) & eqMask(em[1] ?? 0, 0x02);
  let looking = 1;
  let zeroAt = 0;
  for (let i = 2; i < em.length; i++) {
    const isZero = eqMask(em[i]!, 0);
    zeroAt = select(looking & isZero, i, zeroAt);
    looking &= 1 - isZero;
  }
  good &= 1 - looking;
  good &= geMask(zeroAt, 2 + MIN_PS);
  good &= geMask(em.length, 11);
  return { ok: good === 1, start: zeroAt + 1 };
}

/** M out of a valid EM, or null; the only branch is on the final verdict. */
export function unpadPkcs1v15(em: Uint8Array): Uint8Array | null {
  const { ok, start } = checkPkcs1v15Padding(em);
  // A copy: the caller may wipe EM, and Buffer#slice would share its memory.
  return ok ? Uint8Array.from(em.subarray(start)) : null;
}

export function modulusBytes(privateKey: KeyObject): number {
  return Math.ceil((privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
}

/** RSA decryption with no padding: exactly k bytes, leading zeros kept. */
export function rsaRawDecrypt(privateKey: KeyObject, ciphertext: Uint8Array): Buffer {
  return privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ciphertext);
}

/**
 * PKCS#1 v1.5 decryption with explicit rejection. A ciphertext of the wrong length, one not
 * below the modulus, and a bad padding all throw the same ENCRYPTED_DATA_INVALID.
 */
export function decryptPkcs1v15(privateKey: KeyObject, ciphertext: Uint8Array): Buffer {
  const failure = () => new MkmError('ENCRYPTED_DATA_INVALID');
  if (ciphertext.length !== modulusBytes(privateKey)) throw failure();
  let em: Buffer;
  try {
    em = rsaRawDecrypt(privateKey, ciphertext);
  } catch {
    throw failure();
  }
  const message = unpadPkcs1v15(em);
  em.fill(0);
  if (message === null) throw failure();
  return Buffer.from(message);
}
