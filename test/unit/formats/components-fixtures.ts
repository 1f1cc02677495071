import { expect } from 'vitest';
import { MkmError } from '../../../shared/errors.std';
import { setOddParity } from '../../../shared/formats/des-keys.std';

/** A seeded generator (xorshift32), so a failing case comes back the same on every run. */
export function seeded(seed: number): (length: number) => Uint8Array {
  let s = seed >>> 0 || 1;
  return (length) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      out[i] = s & 0xff;
    }
    return out;
  };
}

export function oddParity(bytes: Uint8Array): Uint8Array {
  return setOddParity(bytes);
}

export const hexOf = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
export const bytesOf = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/[\s-]/g, ''), 'hex'));

export function thrown(fn: () => unknown): MkmError {
  try {
    fn();
  } catch (error) {
    if (error instanceof MkmError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

/**
 * Nothing of a secret in an error: no run of 6 of its hex digits (either case, with or without
 * the separators a person types) in the message or the details.
 */
export function expectNoSecretIn(error: MkmError, secretHex: string): void {
  const digits = secretHex.replace(/[^0-9a-fA-F]/g, '').toLowerCase();
  const text = `${error.message}\n${JSON.stringify(error.details ?? {})}`.toLowerCase().replace(/[\s-]/g, '');
  for (let i = 0; i + 6 <= digits.length; i++) {
    expect(
      text.includes(digits.slice(i, i + 6)),
      `digits ${i + 1}-${i + 6} of the secret in: ${error.message}`,
    ).toBe(false);
  }
}
