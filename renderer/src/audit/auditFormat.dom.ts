import type { AuditEntryView } from '../../../shared/contract.std';
import type { AuditVerifyReport } from '../../../shared/contract/audit.std';
import { formatKcv } from '../../../shared/wording.std';

/** What the filter form holds, as typed (strings, so inputs stay controlled). */
export interface FilterForm {
  action: string;
  result: '' | 'ok' | 'error';
  keyId: string;
  text: string;
  /** `datetime-local` values (local time, minute precision), or ''. */
  from: string;
  to: string;
}

export const EMPTY_FILTER: FilterForm = { action: '', result: '', keyId: '', text: '', from: '', to: '' };

/** The filter as the audit channels take it. */
export interface AuditFilter {
  action?: string;
  keyId?: string;
  result?: string;
  from?: string;
  to?: string;
  text?: string;
}

/** Action families the log holds; offered as suggestions in the action field. */
export const ACTION_PREFIXES = ['app.', 'token.', 'key.', 'audit.', 'gateway.', 'settings.'] as const;

/**
 * The form as a channel filter, or the sentence that says why it cannot be one. The log matches
 * an action exactly or by a prefix ending in '.', so a bare word ("key") means its family.
 */
export function toFilter(form: FilterForm): { filter: AuditFilter } | { problem: string } {
  const filter: AuditFilter = {};
  const action = form.action.trim().toLowerCase();
  if (action) filter.action = action.includes('.') ? action : `${action}.`;
  if (form.result) filter.result = form.result;
  const keyId = form.keyId.trim().toLowerCase().replace(/[\s:]/g, '');
  if (keyId) filter.keyId = keyId;
  const text = form.text.trim();
  if (text) filter.text = text;
  const from = localToIso(form.from, 'start');
  const to = localToIso(form.to, 'end');
  if (from === null || to === null) return { problem: 'A date in the filter is not valid.' };
  if (from) filter.from = from;
  if (to) filter.to = to;
  if (from && to && from > to) return { problem: 'The “from” date is after the “to” date.' };
  return { filter };
}

/** A `datetime-local` value as an ISO instant; the "to" bound takes in its whole minute. */
function localToIso(value: string, edge: 'start' | 'end'): string | undefined | null {
  if (!value) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return null;
  if (edge === 'end' && !/:\d{2}:\d{2}/.test(value)) date.setSeconds(59, 999);
  return date.toISOString();
}

export function isFiltered(filter: AuditFilter): boolean {
  return Object.keys(filter).length > 0;
}

export function localTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** A key named the short way: ID, then KCV or the start of the fingerprint. */
export function keyText(key: AuditEntryView['key']): string {
  if (!key) return '';
  const id = key.id.length > 12 ? `${key.id.slice(0, 8)}…${key.id.slice(-4)}` : key.id || '(no ID)';
  if (key.kcv) return `${id} · KCV ${formatKcv(key.kcv)}`;
  if (key.fingerprint) return `${id} · ${key.fingerprint.slice(0, 8)}…`;
  return id;
}

export function tokenText(actor: AuditEntryView['actor']): string {
  if (!actor.token) return '';
  const label = actor.token.label || '(no label)';
  return actor.token.serial ? `${label} · ${actor.token.serial}` : label;
}

/** `mkm-audit-20261123-2031.json` (local time; the filter adds `-filtered`). */
export function exportFileName(format: 'json' | 'csv', now: Date, filtered: boolean): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return `mkm-audit-${stamp}${filtered ? '-filtered' : ''}.${format}`;
}

export const MIME = { json: 'application/json', csv: 'text/csv' } as const;

/**
 * How many entries an export holds, read from the export itself (what was saved, not what was
 * asked for): the JSON array's length, or the CSV's records after its header (a line break
 * inside a quoted cell is not a record's end).
 */
export function exportedEntries(format: 'json' | 'csv', content: string): number | null {
  if (format === 'json') {
    try {
      const value: unknown = JSON.parse(content);
      return Array.isArray(value) ? value.length : null;
    } catch {
      return null;
    }
  }
  let records = 0;
  let quoted = false;
  let text = false;
  for (const c of content) {
    if (c === '"') {
      quoted = !quoted;
      text = true;
    } else if (c === '\n' && !quoted) {
      if (text) records++;
      text = false;
    } else if (c !== '\r') text = true;
  }
  if (text) records++;
  return Math.max(0, records - 1);
}

/** "42 entries, CSV, 12,345 bytes" */
export function exportContents(format: 'json' | 'csv', content: string): string {
  const n = exportedEntries(format, content);
  const bytes = new TextEncoder().encode(content).length;
  const entries = n === null ? '' : `${n.toLocaleString()} entr${n === 1 ? 'y' : 'ies'}, `;
  return `${entries}${format.toUpperCase()}, ${bytes.toLocaleString()} bytes`;
}

/**
 * Saves text (or bytes: a PDF) as a file through a Blob and an object URL. Downloads are not fetches: the CSP's
 * connect-src does not apply to them, and blob: URLs of the app's own origin are allowed to be
 * downloaded (the e2e spec proves it). Returns false when the platform cannot do it.
 */
export function downloadText(
  content: string | Uint8Array<ArrayBuffer>,
  fileName: string,
  mime: string,
): boolean {
  if (typeof URL.createObjectURL !== 'function') return false;
  let url: string;
  try {
    url = URL.createObjectURL(
      new Blob([content], { type: typeof content === 'string' ? `${mime};charset=utf-8` : mime }),
    );
  } catch {
    return false;
  }
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Revoke later: the download reads the blob after the click returns.
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return true;
}

export function resultTone(result: string): 'ok' | 'danger' {
  return result === 'ok' ? 'ok' : 'danger';
}

/** The verify report in words, for the status line (tests and screen readers read it). */
export function verifySummary(r: AuditVerifyReport): string {
  if (!r.ok) {
    const bad = r.firstBad;
    if (!bad) return 'The audit log was changed after it was written.';
    const where = bad.seq
      ? `entry ${bad.seq} (line ${bad.line})`
      : bad.line
        ? `line ${bad.line}`
        : 'its state file';
    return `The audit log was changed: the first bad entry is ${where}: ${bad.reason}`;
  }
  return `The audit log is intact: ${r.entries.toLocaleString()} ${r.entries === 1 ? 'entry' : 'entries'} checked.`;
}
