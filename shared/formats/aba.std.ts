/**
 * ABA routing transit numbers (US): 9 digits, weights 3-7-1 repeated, sum divisible by 10.
 * The first two digits are the Federal Reserve routing symbol; only some ranges are assigned,
 * so a number can pass the checksum and still be impossible.
 */

export type AbaIssue = 'length' | 'non_digit' | 'checksum' | 'prefix';

const WEIGHTS = [3, 7, 1, 3, 7, 1, 3, 7, 1] as const;

function weightedSum(digits: string, count: number): number {
  let sum = 0;
  for (let i = 0; i < count; i++) sum += (digits.charCodeAt(i) - 48) * WEIGHTS[i]!;
  return sum;
}

/** The 3-7-1 checksum only (what the gateway's `aba_ok` reports). */
export function abaChecksumOk(routing: string): boolean {
  return /^\d{9}$/.test(routing) && weightedSum(routing, 9) % 10 === 0;
}

/** The ninth digit that completes the first eight. */
export function abaCheckDigit(first8: string): string {
  if (!/^\d{8}$/.test(first8)) throw new RangeError('An ABA payload is exactly 8 digits');
  return String((10 - (weightedSum(first8, 8) % 10)) % 10);
}

/**
 * Routing symbols in use: 00 (US Government), 01-12 (Federal Reserve districts), 21-32
 * (thrifts), 61-72 (electronic transactions), 80 (traveler's cheques).
 */
export function abaPrefixAssigned(routing: string): boolean {
  const p = Number(routing.slice(0, 2));
  return p <= 12 || (p >= 21 && p <= 32) || (p >= 61 && p <= 72) || p === 80;
}

/** First problem found, in the order a person would fix them; null when the number is plausible. */
export function abaIssue(routing: string): AbaIssue | null {
  if (routing.length !== 9) return 'length';
  if (!/^\d{9}$/.test(routing)) return 'non_digit';
  if (!abaChecksumOk(routing)) return 'checksum';
  if (!abaPrefixAssigned(routing)) return 'prefix';
  return null;
}
