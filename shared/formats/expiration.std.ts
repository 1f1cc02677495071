/**
 * Card expiration dates as people type them (MM/YY, MM/YYYY) and as magnetic stripes and
 * EMV carry them (YYMM). A bare four-digit value is YYMM on a track but MMYY on most forms,
 * so it is parsed only when the caller names the format.
 */

export type ExpirationFormat = 'MM/YY' | 'MM/YYYY' | 'YYMM';

export interface Expiration {
  /** 1-12 */
  month: number;
  /** Four digits. */
  year: number;
}

export type ExpirationIssue = 'empty' | 'format' | 'ambiguous' | 'month' | 'expired' | 'too_far';

export type ParsedExpiration =
  | { ok: true; value: Expiration; format: ExpirationFormat }
  | { ok: false; issue: ExpirationIssue; message: string };

const MESSAGES: Record<ExpirationIssue, string> = {
  empty: 'the expiration date is empty',
  format: 'the expiration date must look like MM/YY or MM/YYYY',
  ambiguous: 'four digits without a slash could be MMYY or YYMM; type MM/YY',
  month: 'the month must be 01 to 12',
  expired: 'the card has expired',
  too_far: 'the expiration date is too far in the future',
};

function fail(issue: ExpirationIssue): ParsedExpiration {
  return { ok: false, issue, message: MESSAGES[issue] };
}

// Two-digit years: cards issued today expire within ~20 years, so 20YY until the 2080s.
const CENTURY = 2000;
const SLASHED = /^(\d{2})\s?[/-]\s?(\d{2}|\d{4})$/;

function build(month: number, year: number, format: ExpirationFormat): ParsedExpiration {
  if (month < 1 || month > 12) return fail('month');
  return { ok: true, value: { month, year }, format };
}

function parseSlashed(text: string, format: ExpirationFormat | 'auto'): ParsedExpiration {
  const m = SLASHED.exec(text);
  if (!m) return fail('format');
  const yearDigits = m[2]!;
  const actual: ExpirationFormat = yearDigits.length === 2 ? 'MM/YY' : 'MM/YYYY';
  if (format !== 'auto' && format !== actual) return fail('format');
  const year = yearDigits.length === 2 ? CENTURY + Number(yearDigits) : Number(yearDigits);
  return build(Number(m[1]), year, actual);
}

/** Parse an expiration date; `auto` accepts MM/YY and MM/YYYY ('-' also separates). */
export function parseExpiration(input: string, format: ExpirationFormat | 'auto' = 'auto'): ParsedExpiration {
  const text = input.trim();
  if (text === '') return fail('empty');
  if (format === 'YYMM') {
    const m = /^(\d{2})(\d{2})$/.exec(text);
    return m ? build(Number(m[2]), CENTURY + Number(m[1]), 'YYMM') : fail('format');
  }
  if (format === 'auto' && /^\d{4}$/.test(text)) return fail('ambiguous');
  return parseSlashed(text, format);
}

/**
 * A card is good through the last day of its month. Compared in UTC: issuers differ on
 * time zones, and a troubleshooting tool can live with a few hours either way.
 */
export function expirationIssue(
  value: Expiration,
  now: Date,
  maxYearsAhead = 20,
): 'expired' | 'too_far' | null {
  const nowIndex = now.getUTCFullYear() * 12 + now.getUTCMonth();
  const expIndex = value.year * 12 + (value.month - 1);
  if (expIndex < nowIndex) return 'expired';
  if (expIndex > nowIndex + maxYearsAhead * 12) return 'too_far';
  return null;
}

/** Parse and check against `now` in one step (what a form field wants). */
export function validateExpiration(
  input: string,
  now: Date,
  format: ExpirationFormat | 'auto' = 'auto',
): ParsedExpiration {
  const parsed = parseExpiration(input, format);
  if (!parsed.ok) return parsed;
  const issue = expirationIssue(parsed.value, now);
  return issue ? fail(issue) : parsed;
}

const two = (n: number) => String(n % 100).padStart(2, '0');

export function formatExpiration(value: Expiration, format: ExpirationFormat): string {
  switch (format) {
    case 'MM/YY':
      return `${two(value.month)}/${two(value.year)}`;
    case 'MM/YYYY':
      return `${two(value.month)}/${String(value.year).padStart(4, '0')}`;
    case 'YYMM':
      return `${two(value.year)}${two(value.month)}`;
  }
}
