import { createHash } from 'node:crypto';

/**
 * A deterministic stand-in for crypto.getRandomValues, for code that takes its random source
 * as `random(n)`: SHA-256 in counter mode over a seed, so a test's keys and shares are the
 * same on every run and two seeds give unrelated streams.
 */
export function seededRandom(seed: string): (n: number) => Uint8Array {
  let counter = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 32) {
      const block = createHash('sha256').update(`${seed}/${counter++}`).digest();
      out.set(block.subarray(0, Math.min(32, n - i)), i);
    }
    return out;
  };
}
