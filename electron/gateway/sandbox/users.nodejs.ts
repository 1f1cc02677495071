import { randomBytes, scrypt, timingSafeEqual, createHash } from 'node:crypto';
import type { Clock } from './clock.nodejs';

/**
 * Users are stored as scrypt hashes; bearer tokens live only in memory, keyed by their
 * SHA-256 so a heap dump does not hand out live tokens.
 */

// N=2^14, r=8, p=1: the interactive-login parameters of the scrypt paper; ~16 MiB, tens of ms.
const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

function scryptAsync(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEYLEN, { N: n, r, p, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

// Verifying an unknown user against this keeps "no such user" as slow as "wrong password".
const DUMMY_HASH = `scrypt$${N}$${R}$${P}$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(KEYLEN).toString('base64')}`;

export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const parts = (stored ?? DUMMY_HASH).split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64'), Number(n), Number(r), Number(p));
  return actual.length === expected.length && timingSafeEqual(actual, expected) && stored !== undefined;
}

interface TokenEntry {
  user: string;
  expiresAtMs: number;
}

export class TokenStore {
  private readonly tokens = new Map<string, TokenEntry>();
  private readonly clock: Clock;
  readonly ttlSeconds: number;

  constructor(clock: Clock, ttlSeconds: number) {
    this.clock = clock;
    this.ttlSeconds = ttlSeconds;
  }

  private static digest(token: string): string {
    return createHash('sha256').update(token).digest('hex');
  }

  issue(user: string): { token: string; expiresIn: number } {
    const token = randomBytes(32).toString('base64url');
    const now = this.clock();
    this.tokens.set(TokenStore.digest(token), { user, expiresAtMs: now + this.ttlSeconds * 1000 });
    for (const [k, v] of this.tokens) if (v.expiresAtMs <= now) this.tokens.delete(k);
    return { token, expiresIn: this.ttlSeconds };
  }

  /** The user a live token belongs to; undefined when unknown or expired. */
  resolve(token: string): string | undefined {
    const key = TokenStore.digest(token);
    const entry = this.tokens.get(key);
    if (!entry) return undefined;
    if (entry.expiresAtMs <= this.clock()) {
      this.tokens.delete(key);
      return undefined;
    }
    return entry.user;
  }
}
