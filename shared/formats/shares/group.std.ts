/**
 * The group the key-share commitments live in: the 2048-bit MODP group 14 of RFC 3526, a safe
 * prime p = 2q + 1 whose middle digits are those of pi (nothing up the sleeve), with g = 2
 * generating the subgroup of prime order q (p = 7 mod 8, so 2 is a square).
 *
 * Why this group and not a curve: `*.std.ts` may import no package (eslint.config.js), so
 * @noble/curves is out of reach here, and every curve group of ~256 bits has an order below
 * 2^256, so a 32-byte key would have to be split into chunks. q here is a 2047-bit prime, so a
 * 16, 24 or 32-byte key is one field element, and the discrete-log problem in a 2048-bit group
 * (~112-bit strength) only guards the *binding* of the commitments: with Pedersen commitments
 * (see pedersen.std.ts) the key's secrecy does not rest on it at all. The price is size: a
 * share is two 256-byte numbers, and the arithmetic is BigInt square-and-multiply.
 */

import { sha256 } from './sha256.std';

const P_HEX =
  'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD' +
  'EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED' +
  'EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F' +
  '83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B' +
  'E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510' +
  '15728E5A8AACAA68FFFFFFFFFFFFFFFF';

/** The safe prime of RFC 3526 group 14. */
export const P = BigInt(`0x${P_HEX}`);
/** The prime order of the subgroup the commitments live in, and the field the shares live in. */
export const Q = (P - 1n) / 2n;
export const G = 2n;
/** Bytes of a group element or a field element, big-endian, fixed width. */
export const ELEMENT_BYTES = 256;

/**
 * Pedersen's second generator: nobody may know log_g(H), or they could open a commitment to
 * another share. It is hashed from a public label (expanded to 288 bytes, reduced mod p and
 * squared into the order-q subgroup), so anyone can recompute it and no one chose it.
 */
export const H_LABEL = 'mkm key shares v1: Pedersen generator h for RFC 3526 group 14';

/** base^exponent mod modulus, four exponent bits at a time (the shares' exponents are 2047 bits). */
export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  const table = [1n, base % modulus];
  for (let i = 2; i < 16; i++) table.push((table[i - 1]! * table[1]!) % modulus);
  let result = 1n;
  for (let shift = BigInt(exponent.toString(16).length * 4 - 4); shift >= 0n; shift -= 4n) {
    result = (result * result) % modulus;
    result = (result * result) % modulus;
    result = (result * result) % modulus;
    result = (result * result) % modulus;
    const digit = Number((exponent >> shift) & 15n);
    if (digit !== 0) result = (result * table[digit]!) % modulus;
  }
  return result;
}

/**
 * a^x * b^y mod p with one chain of squarings for both (Shamir's trick): a Pedersen commitment
 * costs about one exponentiation instead of two.
 */
export function modPow2(a: bigint, x: bigint, b: bigint, y: bigint): bigint {
  const ab = (a * b) % P;
  let result = 1n;
  const bits = Math.max(x.toString(2).length, y.toString(2).length);
  for (let i = BigInt(bits - 1); i >= 0n; i--) {
    result = (result * result) % P;
    const pick = Number(((x >> i) & 1n) | (((y >> i) & 1n) << 1n));
    if (pick === 1) result = (result * a) % P;
    else if (pick === 2) result = (result * b) % P;
    else if (pick === 3) result = (result * ab) % P;
  }
  return result;
}

export function bytesToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

/** Big-endian, exactly `length` bytes; the caller guarantees the value fits. */
export function bigIntToBytes(value: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n) throw new RangeError('value does not fit');
  return out;
}

function deriveH(): bigint {
  const label = new TextEncoder().encode(H_LABEL);
  const wide = new Uint8Array(9 * 32);
  for (let counter = 0; counter < 9; counter++) {
    const input = new Uint8Array(label.length + 1);
    input.set(label);
    input[label.length] = counter;
    wide.set(sha256(input), 32 * counter);
  }
  const h = modPow(bytesToBigInt(wide) % P, 2n, P);
  // A square other than 1 has order q; 1 would make every commitment ignore the blinding.
  if (h <= 1n) throw new Error('Pedersen generator degenerate');
  return h;
}

export const H = deriveH();

/** Whether `x` is an element of the order-q subgroup other than 1 (a commitment must be one). */
export function isSubgroupElement(x: bigint): boolean {
  return x > 1n && x < P && modPow(x, Q, P) === 1n;
}

export function mod(x: bigint, m: bigint): bigint {
  const r = x % m;
  return r < 0n ? r + m : r;
}

/** Inverse mod the prime q by extended Euclid (a Fermat power would cost a 2047-bit exponentiation). */
export function invertModQ(x: bigint): bigint {
  let [r0, r1] = [Q, mod(x, Q)];
  let [t0, t1] = [0n, 1n];
  while (r1 !== 0n) {
    const quotient = r0 / r1;
    [r0, r1] = [r1, r0 - quotient * r1];
    [t0, t1] = [t1, t0 - quotient * t1];
  }
  if (r0 !== 1n) throw new RangeError('not invertible');
  return mod(t0, Q);
}
