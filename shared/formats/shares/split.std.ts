/**
 * Split a key-encryption key into N shares, any M of which recover it (Shamir over the prime
 * field of order q), with Pedersen's verifiable secret sharing (Pedersen, CRYPTO '91): for
 * each coefficient a_j of the key's polynomial f and b_j of a random blinding polynomial r,
 * the commitment C_j = g^a_j * h^b_j is published, and share i is (f(i), r(i)).
 *
 * Why Pedersen and not Feldman: Feldman publishes g^key. For a 16-byte key that is a discrete
 * log in an interval of 2^128 (2^112 for two-key TDES), which Pollard's kangaroo walks in about
 * the square root of that, 2^64 or 2^56 steps: the published commitments would be the weakest
 * point of the backup. Pedersen's commitments are perfectly hiding: they say nothing about the
 * key, whatever an attacker can compute.
 */

import { MkmError } from '../../errors.std';
import {
  assertParameters,
  computeBackupId,
  SHARE_FORMAT_VERSION,
  type KeyShare,
  type ShareBackup,
} from './backup.std';
import { ELEMENT_BYTES, G, H, Q, bigIntToBytes, bytesToBigInt, modPow2 } from './group.std';

/** A cryptographically secure source of n random bytes (crypto.getRandomValues in production). */
export type RandomBytes = (n: number) => Uint8Array;

export interface SplitResult {
  backup: ShareBackup;
  shares: KeyShare[];
}

// 2047 bits sampled by rejection: q is just below 2^2047, so a retry is rare (about 2^-64)
// and a source that keeps missing is stuck, not unlucky.
const MAX_DRAWS = 8;

function randomScalar(random: RandomBytes, drawn: Set<bigint>): bigint {
  for (let attempt = 0; attempt < MAX_DRAWS; attempt++) {
    const bytes = random(ELEMENT_BYTES);
    if (!(bytes instanceof Uint8Array) || bytes.length !== ELEMENT_BYTES) break;
    const copy = bytes.slice();
    copy[0]! &= 0x7f;
    const value = bytesToBigInt(copy);
    copy.fill(0);
    if (value >= Q) continue;
    // Zero or a repeat among a split's 2M draws means the source is broken: fail closed.
    if (value === 0n || drawn.has(value)) break;
    drawn.add(value);
    return value;
  }
  throw new MkmError('SHARE_RANDOM_FAILED');
}

/** f(x) mod q by Horner's rule; coefficients[0] is f(0). */
export function evaluate(coefficients: readonly bigint[], x: bigint): bigint {
  let acc = 0n;
  for (let j = coefficients.length - 1; j >= 0; j--) acc = (acc * x + coefficients[j]!) % Q;
  return acc;
}

export function commit(a: bigint, b: bigint): bigint {
  return modPow2(G, a, H, b);
}

export function splitKey(
  key: Uint8Array,
  options: { threshold: number; count: number },
  random: RandomBytes,
): SplitResult {
  const parameters = { threshold: options.threshold, count: options.count, keyLength: key.length };
  assertParameters(parameters);
  const keyLength = key.length as ShareBackup['keyLength'];
  const drawn = new Set<bigint>();
  const f = [bytesToBigInt(key)];
  const r = [randomScalar(random, drawn)];
  for (let j = 1; j < options.threshold; j++) {
    f.push(randomScalar(random, drawn));
    r.push(randomScalar(random, drawn));
  }
  const commitments = f.map((a, j) => bigIntToBytes(commit(a, r[j]!), ELEMENT_BYTES));
  const backupId = computeBackupId({ ...parameters, keyLength }, commitments);
  const shares: KeyShare[] = [];
  for (let index = 1; index <= options.count; index++) {
    const value = new Uint8Array(2 * ELEMENT_BYTES);
    value.set(bigIntToBytes(evaluate(f, BigInt(index)), ELEMENT_BYTES), 0);
    value.set(bigIntToBytes(evaluate(r, BigInt(index)), ELEMENT_BYTES), ELEMENT_BYTES);
    shares.push({ backupId, index, threshold: options.threshold, count: options.count, keyLength, value });
  }
  return {
    backup: {
      version: SHARE_FORMAT_VERSION,
      backupId,
      threshold: options.threshold,
      count: options.count,
      keyLength,
      commitments,
    },
    shares,
  };
}
