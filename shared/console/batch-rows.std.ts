import { ERROR_SENTENCES } from '../errors.std';
import { composeFindings, type ComposeFieldName, type ComposeFields } from './compose.std';

/**
 * What is wrong with one row of a batch, all of it: a row with a mistyped card number and an
 * expired date gets both problems, so the admin fixes the row once instead of once per run.
 * Messages name fields and lengths, never a value.
 */
export interface BatchProblem {
  /** The field at fault; null for the row as a whole (empty, too large, refused by the key). */
  field: ComposeFieldName | null;
  code: string;
  message: string;
}

export interface BatchFailure {
  /** 1-based data row (the header is not counted), as in the output's `row` column. */
  row: number;
  /** The row's reference, card-length digit runs masked; '' without a ref column. */
  ref: string;
  problems: BatchProblem[];
}

/** The summary lists this many failed rows at most; every one of them is in the output file. */
export const BATCH_FAILURES_LISTED = 500;

export function rowProblems(
  fields: ComposeFields,
  options: { oversize?: boolean; now?: Date } = {},
): BatchProblem[] {
  if (options.oversize) {
    return [{ field: null, code: 'BATCH_RECORD_TOO_LARGE', message: ERROR_SENTENCES.BATCH_RECORD_TOO_LARGE }];
  }
  if (Object.keys(fields).length === 0) {
    return [{ field: null, code: 'EMPTY', message: 'The row has no value to encrypt.' }];
  }
  return composeFindings(fields, options.now)
    .findings.filter((f) => f.level === 'error')
    .map((f) => ({ field: f.field, code: f.code, message: f.message }));
}

/** The output file's error cell: every problem, in the order found. */
export function problemsText(problems: readonly BatchProblem[]): string {
  return problems.map((p) => `${p.field ? `${p.field}.` : ''}${p.code}: ${p.message}`).join('; ');
}

/**
 * Below this a run's duration is mostly timer noise (a 40-row file "takes" 0 or 1 ms), and a
 * rate computed from it means nothing: the count and the duration are shown instead.
 */
export const BATCH_RATE_MIN_MS = 1000;

export function batchRate(rows: number, elapsedMs: number): number | null {
  return elapsedMs >= BATCH_RATE_MIN_MS ? Math.round(rows / (elapsedMs / 1000)) : null;
}

/** "1,234 rows/s (12,340 rows in 10.0 s)" or, for a short run, "114 rows in 37 ms". */
export function batchSpeedText(s: { rows: number; elapsedMs: number; rowsPerSecond: number | null }): string {
  const rows = `${s.rows.toLocaleString('en-US')} row${s.rows === 1 ? '' : 's'}`;
  if (s.rowsPerSecond === null) return `${rows} in ${Math.round(s.elapsedMs).toLocaleString('en-US')} ms`;
  return `${s.rowsPerSecond.toLocaleString('en-US')} rows/s (${rows} in ${(s.elapsedMs / 1000).toFixed(1)} s)`;
}
