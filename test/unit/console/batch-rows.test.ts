import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { runBatch } from '../../../electron/console/batch.main';
import {
  BATCH_FAILURES_LISTED,
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

describe('runBatch keeps every problem of a failed row, in the output and in the summary', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mkm-batch-rows-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const run = (input: string, out: string) =>
    runBatch({
      operationId: 'rows',
      inPath: input,
      outPath: out,
      scheme: 'oaep',
      overwrite: false,
      rsa: { key: publicKey, padding: 'RSAES-OAEP-SHA256', fingerprint: 'f'.repeat(64) },
      signal: new AbortController().signal,
      onProgress: () => {},
    });

  it('a row with two problems has both, with its masked reference', async () => {
    const input = join(dir, 'two.csv');
    writeFileSync(
      input,
      'id,number,exp,cvv\n' +
        'ok-1,4111111111111111,12/30,123\n' +
        'order 4111111111111112,4111111111111112,12/30,12\n' +
        'bad-exp,5555555555554444,13/30,123\n',
    );
    const out = join(dir, 'two.out.csv');
    const s = await run(input, out);
    expect(s).toMatchObject({ status: 'done', rows: 3, encrypted: 1, failed: 2 });
    expect(s.failures).toEqual([
      {
        row: 2,
        ref: 'order 411111******1112',
        problems: [
          expect.objectContaining({ field: 'number', code: 'luhn' }),
          expect.objectContaining({ field: 'csc', code: 'length' }),
        ],
      },
      { row: 3, ref: 'bad-exp', problems: [expect.objectContaining({ field: 'expiration' })] },
    ]);
    const rows = parse(readFileSync(out, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows[1]!.error).toBe(problemsText(s.failures[0]!.problems));
    expect(rows[1]!.error).toMatch(/^number\.luhn: .*; csc\.length: /);
    expect(JSON.stringify(s)).not.toContain('4111111111111112');
  });

  it('lists the first failed rows only, and counts them all', async () => {
    const input = join(dir, 'many.csv');
    const lines = ['number'];
    for (let i = 0; i < BATCH_FAILURES_LISTED + 20; i++) lines.push('4111111111111112');
    writeFileSync(input, lines.join('\n') + '\n');
    const s = await run(input, join(dir, 'many.out.csv'));
    expect(s.failed).toBe(BATCH_FAILURES_LISTED + 20);
    expect(s.failures).toHaveLength(BATCH_FAILURES_LISTED);
    expect(s.failures[0]).toMatchObject({ row: 1, ref: '' });
  });
});
