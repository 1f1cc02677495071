import { describe, expect, it } from 'vitest';
import {
  expirationIssue,
  formatExpiration,
  parseExpiration,
  validateExpiration,
} from '../../../shared/formats/expiration.std';

const NOW = new Date('2026-11-23T19:00:00Z');

describe('expiration dates', () => {
  it.each([
    ['12/26', 'auto', 12, 2026, 'MM/YY'],
    ['01/2030', 'auto', 1, 2030, 'MM/YYYY'],
    ['07-29', 'auto', 7, 2029, 'MM/YY'],
    [' 03 / 28 ', 'auto', 3, 2028, 'MM/YY'],
    ['2912', 'YYMM', 12, 2029, 'YYMM'],
    ['12/26', 'MM/YY', 12, 2026, 'MM/YY'],
  ] as const)('parses %j (%s)', (text, format, month, year, detected) => {
    expect(parseExpiration(text, format)).toEqual({ ok: true, value: { month, year }, format: detected });
  });

  it.each([
    ['', 'auto', 'empty'],
    ['1226', 'auto', 'ambiguous'],
    ['13/26', 'auto', 'month'],
    ['00/26', 'auto', 'month'],
    ['2913', 'YYMM', 'month'],
    ['1/26', 'auto', 'format'],
    ['12/026', 'auto', 'format'],
    ['12/2026', 'MM/YY', 'format'],
    ['12/26', 'YYMM', 'format'],
    ['ab/cd', 'auto', 'format'],
  ] as const)('refuses %j (%s): %s', (text, format, issue) => {
    expect(parseExpiration(text, format)).toMatchObject({ ok: false, issue });
  });

  it('treats a card as good through the last day of its month', () => {
    expect(expirationIssue({ month: 11, year: 2026 }, NOW)).toBeNull();
    expect(expirationIssue({ month: 11, year: 2026 }, new Date('2026-11-30T23:59:59Z'))).toBeNull();
    expect(expirationIssue({ month: 11, year: 2026 }, new Date('2026-12-01T00:00:00Z'))).toBe('expired');
    expect(expirationIssue({ month: 10, year: 2026 }, NOW)).toBe('expired');
    expect(expirationIssue({ month: 11, year: 2046 }, NOW)).toBeNull();
    expect(expirationIssue({ month: 12, year: 2046 }, NOW)).toBe('too_far');
  });

  it('validates in one step', () => {
    expect(validateExpiration('10/26', NOW)).toMatchObject({ ok: false, issue: 'expired' });
    expect(validateExpiration('12/26', NOW)).toMatchObject({ ok: true });
  });

  it('formats in each layout', () => {
    const v = { month: 3, year: 2029 };
    expect(formatExpiration(v, 'MM/YY')).toBe('03/29');
    expect(formatExpiration(v, 'MM/YYYY')).toBe('03/2029');
    expect(formatExpiration(v, 'YYMM')).toBe('2903');
    for (const f of ['MM/YY', 'MM/YYYY', 'YYMM'] as const) {
      expect(parseExpiration(formatExpiration(v, f), f)).toMatchObject({ ok: true, value: v });
    }
  });
});
