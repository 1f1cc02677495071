import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { MkmError } from '../../shared/errors.std';
import type { Verifier } from './journal.nodejs';

const scryptAsync = promisify(scrypt) as (
  password: Buffer,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/**
 * A participant proves it is them with a passphrase of their own, at each step they act in. Only
 * a salted scrypt verifier is kept (never the passphrase, nor a fast hash someone could search):
 * N = 2^15 costs a guesser about 100 ms and 32 MiB per try.
 */
export const VERIFIER_COST = { N: 1 << 15, r: 8, p: 1 } as const;
export const MIN_PASSPHRASE = 12;

const maxmem = (v: { N: number; r: number }) => 256 * v.N * v.r;

export async function makeVerifier(
  passphrase: string,
  cost: { N: number; r: number; p: number } = VERIFIER_COST,
): Promise<Verifier> {
  if (passphrase.length < MIN_PASSPHRASE) {
    throw new MkmError('VALIDATION', `A ceremony passphrase has at least ${MIN_PASSPHRASE} characters.`, {
      field: 'passphrase',
    });
  }
  const salt = randomBytes(16);
  const secret = Buffer.from(passphrase.normalize('NFC'), 'utf8');
  try {
    const hash = await scryptAsync(secret, salt, 32, { ...cost, maxmem: maxmem(cost) });
    return { kdf: 'scrypt', ...cost, salt: salt.toString('base64'), hash: hash.toString('base64') };
  } finally {
    secret.fill(0);
  }
}

export async function checkVerifier(verifier: Verifier, passphrase: string): Promise<boolean> {
  const secret = Buffer.from(passphrase.normalize('NFC'), 'utf8');
  try {
    const expected = Buffer.from(verifier.hash, 'base64');
    const actual = await scryptAsync(secret, Buffer.from(verifier.salt, 'base64'), expected.length, {
      N: verifier.N,
      r: verifier.r,
      p: verifier.p,
      maxmem: maxmem(verifier),
    });
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  } finally {
    secret.fill(0);
  }
}
