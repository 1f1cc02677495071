import { describe, expect, it } from 'vitest';
import { luhnCheckDigit, luhnValid } from '../../../shared/formats/luhn.std';
import { abaCheckDigit, abaChecksumOk, abaIssue } from '../../../shared/formats/aba.std';

describe('Luhn', () => {
  it.each(['4111111111111111', '79927398713', '378282246310005', '6011111111111117', '0000000000000000'])(
    'accepts %s',
    (pan) => expect(luhnValid(pan)).toBe(true),
  );

  it.each([
    ['4111111111111112', 'last digit off by one'],
    ['79927398710', 'ISO 7812 example with a wrong check digit'],
    ['4111111111111121', 'adjacent digits swapped'],
    ['0', 'a lone check digit'],
    ['', 'empty'],
    ['4111 1111 1111 1111', 'separators (callers normalise first)'],
    ['411111111111111a', 'a letter'],
  ])('refuses %s (%s)', (pan) => expect(luhnValid(pan)).toBe(false));

  it('computes the check digit of the ISO 7812 example and of published test PANs', () => {
    expect(luhnCheckDigit('7992739871')).toBe('3');
    expect(luhnCheckDigit('411111111111111')).toBe('1');
    expect(luhnCheckDigit('37828224631000')).toBe('5');
    expect(luhnCheckDigit('601100099013942')).toBe('4');
  });

  it('gives a digit that always makes the number valid, and the only one', () => {
    for (let n = 1; n < 3000; n += 7) {
      const payload = String(n * 7919).padStart(n % 17, '0');
      const d = luhnCheckDigit(payload);
      expect(luhnValid(payload + d)).toBe(true);
      const other = String((Number(d) + 1 + (n % 9)) % 10);
      expect(luhnValid(payload + other)).toBe(false);
    }
  });

  it('refuses a payload that is not digits', () => {
    expect(() => luhnCheckDigit('12a')).toThrow(RangeError);
    expect(() => luhnCheckDigit('')).toThrow(RangeError);
  });
});

describe('ABA routing numbers', () => {
  // Federal Reserve Bank of Boston, JPMorgan Chase NY, Fed Dallas, Wells Fargo CA, Bank of America NY.
  it.each(['011000015', '021000021', '111000025', '121042882', '026009593'])('accepts %s', (rtn) => {
    expect(abaChecksumOk(rtn)).toBe(true);
    expect(abaIssue(rtn)).toBeNull();
    expect(abaCheckDigit(rtn.slice(0, 8))).toBe(rtn[8]);
  });

  it.each([
    ['123456789', 'checksum'],
    ['021000012', 'checksum'],
    ['02100002', 'length'],
    ['0210000210', 'length'],
    ['02100002a', 'non_digit'],
    // 3-7-1 sums to a multiple of ten but routing symbol 50 is not assigned.
    ['500000005', 'prefix'],
  ] as const)('refuses %s: %s', (rtn, issue) => {
    expect(abaIssue(rtn)).toBe(issue);
  });

  it('reports only the checksum for the gateway (a prefix problem still checksums)', () => {
    expect(abaChecksumOk('500000005')).toBe(true);
  });

  it('catches every single-digit change of a valid number', () => {
    const good = '021000021';
    for (let i = 0; i < 9; i++) {
      for (let d = 0; d < 10; d++) {
        if (String(d) === good[i]) continue;
        expect(abaChecksumOk(good.slice(0, i) + d + good.slice(i + 1))).toBe(false);
      }
    }
  });
});
