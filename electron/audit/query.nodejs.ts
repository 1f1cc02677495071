import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MkmError } from '../../shared/errors.std';
import { readLines } from './line-reader.nodejs';
import { LOG_FILE, parseLine } from './record.nodejs';
import type { AuditEntryRecord } from './record.nodejs';
import { formatKcv } from '../../shared/wording.std';

/**
 * Reading the log for people: the viewer's filters and the JSON/CSV exports. Reading is not
 * checking: a line that does not parse is skipped and counted, and whether the log is intact
 * is verify's answer, which the viewer shows next to these rows.
 */
export interface AuditFilter {
  /** Exact action, or a prefix ending in '.' ('key.' matches key.generate, key.rotate). */
  action?: string;
  keyId?: string;
  /** 'ok', 'error' (anything but ok) or one error code. */
  result?: string;
  /** Inclusive bounds on the entry time. */
  from?: Date | string;
  to?: Date | string;
  /** Case-insensitive substring of any shown field, details included. */
  text?: string;
}

export interface AuditQueryOptions {
  dir: string;
  filter?: AuditFilter;
  /** At most this many rows; with newestFirst, the newest ones. */
  limit?: number;
  newestFirst?: boolean;
}

export interface AuditQueryResult {
  entries: AuditEntryRecord[];
  /** Entries that matched (may exceed entries.length when limit cut the list). */
  matched: number;
  /** Lines that are not valid records (verify says why). */
  skipped: number;
}

function toIso(value: Date | string | undefined, field: string): string | undefined {
  if (value === undefined) return undefined;
  const date = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(date.getTime()))
    throw new MkmError('VALIDATION', 'The date in the filter is not valid.', { field });
  return date.toISOString();
}

export function matcher(filter: AuditFilter = {}): (e: AuditEntryRecord) => boolean {
  const from = toIso(filter.from, 'from');
  const to = toIso(filter.to, 'to');
  const text = filter.text?.toLowerCase();
  const action = filter.action;
  const keyId = filter.keyId?.toLowerCase();
  return (e) => {
    if (action !== undefined && !(action.endsWith('.') ? e.action.startsWith(action) : e.action === action)) {
      return false;
    }
    if (keyId !== undefined && e.key?.id !== keyId) return false;
    if (filter.result !== undefined) {
      if (filter.result === 'error' ? e.result === 'ok' : e.result !== filter.result) return false;
    }
    // Same fixed ISO format on both sides, so string order is time order.
    if (from !== undefined && e.time < from) return false;
    if (to !== undefined && e.time > to) return false;
    if (text !== undefined && !haystack(e).includes(text)) return false;
    return true;
  };
}

function haystack(e: AuditEntryRecord): string {
  return [
    e.action,
    e.result,
    e.actor.osUser,
    e.actor.token?.serial ?? '',
    e.actor.token?.label ?? '',
    e.key?.id ?? '',
    e.key?.kcv ?? '',
    e.key?.fingerprint ?? '',
    e.details ? JSON.stringify(e.details) : '',
  ]
    .join('\n')
    .toLowerCase();
}

export async function queryAuditLog(options: AuditQueryOptions): Promise<AuditQueryResult> {
  const path = join(options.dir, LOG_FILE);
  if (!existsSync(path)) return { entries: [], matched: 0, skipped: 0 };
  const match = matcher(options.filter);
  const limit = options.limit ?? Infinity;
  let entries: AuditEntryRecord[] = [];
  let matched = 0;
  let skipped = 0;
  await readLines(path, {
    onLine(line) {
      const record = parseLine(line.toString('utf8'));
      if (typeof record === 'string') {
        skipped++;
        return;
      }
      if (record.type !== 'entry' || !match(record)) return;
      matched++;
      if (limit === 0) return;
      if (!options.newestFirst) {
        if (entries.length < limit) entries.push(record);
        return;
      }
      entries.push(record);
      // Keep only the newest `limit`, trimming in batches so this stays linear.
      if (entries.length >= 2 * limit) entries = entries.slice(entries.length - limit);
    },
  });
  if (options.newestFirst) {
    if (entries.length > limit) entries = entries.slice(entries.length - limit);
    entries.reverse();
  }
  return { entries, matched, skipped };
}

export async function exportJson(options: AuditQueryOptions): Promise<string> {
  const { entries } = await queryAuditLog(options);
  return JSON.stringify(entries, null, 2) + '\n';
}

export const CSV_COLUMNS = [
  'seq',
  'time',
  'os_user',
  'token_serial',
  'token_label',
  'action',
  'key_id',
  'key_kcv',
  'key_fingerprint',
  'result',
  'details',
] as const;

// A spreadsheet runs a cell starting with these as a formula (CSV injection); tab and CR too,
// because some spreadsheets strip them and then see the formula behind.
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: string): string {
  const guarded = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(guarded) ? `"${guarded.replace(/"/g, '""')}"` : guarded;
}

export function csvRow(e: AuditEntryRecord): string {
  return [
    String(e.seq),
    e.time,
    e.actor.osUser,
    e.actor.token?.serial ?? '',
    e.actor.token?.label ?? '',
    e.action,
    e.key?.id ?? '',
    // Read by people in a spreadsheet: the KCV as everywhere else they read one.
    e.key?.kcv ? formatKcv(e.key.kcv) : '',
    e.key?.fingerprint ?? '',
    e.result,
    e.details ? JSON.stringify(e.details) : '',
  ]
    .map(csvCell)
    .join(',');
}

/** RFC 4180: CRLF line ends, header row, quotes doubled inside quoted cells. */
export async function exportCsv(options: AuditQueryOptions): Promise<string> {
  const { entries } = await queryAuditLog(options);
  const rows = [CSV_COLUMNS.join(','), ...entries.map(csvRow)];
  return rows.join('\r\n') + '\r\n';
}
