/**
 * Luhn (ISO/IEC 7812-1 annex B, "mod 10"). It catches every single-digit typo and most
 * adjacent swaps; it proves nothing about whether a card exists.
 */

const DIGITS = /^\d+$/;

/** Sum with every second digit from the right doubled; `doubleFirst` when a check digit is still to come. */
function luhnSum(digits: string, doubleFirst: boolean): number {
  let sum = 0;
  let double = doubleFirst;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum;
}

/** True when `digits` (digits only, at least 2: a lone check digit proves nothing) passes Luhn. */
export function luhnValid(digits: string): boolean {
  if (digits.length < 2 || !DIGITS.test(digits)) return false;
  return luhnSum(digits, false) % 10 === 0;
}

/** The check digit to append to `payload` (digits only, at least 1). */
export function luhnCheckDigit(payload: string): string {
  if (payload.length < 1 || !DIGITS.test(payload)) {
    throw new RangeError('A Luhn payload must be one or more digits');
  }
  return String((10 - (luhnSum(payload, true) % 10)) % 10);
}
