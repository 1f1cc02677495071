import { describe, expect, it } from 'vitest';
import {
  BATCH_RATE_MIN_MS,
  batchRate,
  batchSpeedText,
  problemsText,
  rowProblems,
} from '../../../shared/console/batch-rows.std';

const NOW = new Date('2026-06-15T12:00:00Z');

describe('rowProblems: every problem of a row, not the first one', () => {
  it('a mistyped number, a month 13 and a short CVV are three problems', () => {
    const problems = rowProblems(
      { number: '4111111111111112', expiration: '13/30', csc: '12' },
      { now: NOW },
    );
    expect(problems.map((p) => `${p.field}.${p.code}`)).toEqual([
      'number.luhn',
      'csc.length',
      expect.stringMatching(/^expiration\./),
    ]);
    for (const p of problems) expect(p.message).not.toMatch(/4111/);
  });

  it('a row that can be encrypted has none; an empty or oversize row has one of its own', () => {
    expect(
      rowProblems({ number: '4111111111111111', expiration: '12/30', csc: '123' }, { now: NOW }),
    ).toEqual([]);
    expect(rowProblems({}, { now: NOW })).toEqual([
      { field: null, code: 'EMPTY', message: 'The row has no value to encrypt.' },
    ]);
    expect(rowProblems({ number: '4111111111111112' }, { oversize: true })).toMatchObject([
      { field: null, code: 'BATCH_RECORD_TOO_LARGE' },
    ]);
  });

  it('the output cell names each problem with its field', () => {
    expect(
      problemsText([
        { field: 'number', code: 'luhn', message: 'Bad check digit.' },
        { field: 'csc', code: 'length', message: 'Too short.' },
        { field: null, code: 'EMPTY', message: 'Nothing.' },
      ]),
    ).toBe('number.luhn: Bad check digit.; csc.length: Too short.; EMPTY: Nothing.');
  });
});

describe('the rate figure', () => {
  it('is given only over a measurable duration; a short run says its count and milliseconds', () => {
    expect(batchRate(114, 0)).toBeNull();
    expect(batchRate(114, BATCH_RATE_MIN_MS - 1)).toBeNull();
    expect(batchRate(3000, 2000)).toBe(1500);
    expect(batchSpeedText({ rows: 114, elapsedMs: 37, rowsPerSecond: null })).toBe('114 rows in 37 ms');
    expect(batchSpeedText({ rows: 1, elapsedMs: 0, rowsPerSecond: null })).toBe('1 row in 0 ms');
    expect(batchSpeedText({ rows: 3000, elapsedMs: 2000, rowsPerSecond: 1500 })).toBe(
      '1,500 rows/s (3,000 rows in 2.0 s)',
    );
  });
});
