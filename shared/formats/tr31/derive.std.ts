import { MkmError } from '../../errors.std';
import type { CipherFamily, Derivation, Kbpk } from './crypto.std';
import type { SupportedVersion } from './fields.std';

/**
 * Which keys a KBPK yields for a block (TR-31:2018 A.4 for version B, X9.143 6.3.2 for
 * version D). Each PRF input is 8 bytes:
 *   counter (1) | key usage indicator (2: 0000 encryption, 0001 MAC) | separator 00 (1) |
 *   algorithm indicator (2) | length of the derived key in bits (2).
 * The derived keys have the KBPK's own cipher and size; the number of PRF calls is the key
 * size over the cipher block size, rounded up (AES-192 takes two and keeps 24 bytes).
 */

const ALGORITHM_INDICATOR: Record<CipherFamily, Record<number, number>> = {
  tdes: { 16: 0x0000, 24: 0x0001 },
  aes: { 16: 0x0002, 24: 0x0003, 32: 0x0004 },
};

/** Which cipher and KBPK sizes each version takes: D is AES only, B is TDES only. */
export function checkKbpk(version: SupportedVersion, kbpk: Kbpk<unknown>): void {
  const family: CipherFamily = version === 'D' ? 'aes' : 'tdes';
  if (kbpk.family !== family || ALGORITHM_INDICATOR[family][kbpk.length] === undefined) {
    throw new MkmError('TR31_KBPK_INVALID', undefined, { version, family: kbpk.family, length: kbpk.length });
  }
}

export function derivationFor(
  version: SupportedVersion,
  kbpk: Kbpk<unknown>,
  role: Derivation['role'],
): Derivation {
  checkKbpk(version, kbpk);
  const indicator = ALGORITHM_INDICATOR[kbpk.family][kbpk.length]!;
  const prfOutput = kbpk.family === 'aes' ? 16 : 8;
  const calls = Math.ceil(kbpk.length / prfOutput);
  const bits = kbpk.length * 8;
  const inputs: Uint8Array[] = [];
  for (let counter = 1; counter <= calls; counter++) {
    inputs.push(
      Uint8Array.of(
        counter,
        0x00,
        role === 'mac' ? 0x01 : 0x00,
        0x00,
        indicator >> 8,
        indicator & 0xff,
        bits >> 8,
        bits & 0xff,
      ),
    );
  }
  return { family: kbpk.family, role, length: kbpk.length, inputs };
}
