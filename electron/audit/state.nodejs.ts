import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MkmError } from '../../shared/errors.std';
import { GENESIS, STATE_FILE, isPlainObject } from './record.nodejs';

/**
 * `audit.state.json`: what the writer last made durable. The log alone cannot tell "the last
 * lines were cut off" from "there were no more lines"; this file can. It is written only
 * after the log bytes it describes were fsynced, so it never runs ahead of the log: the log
 * may be ahead of it (crash between the two writes), never behind.
 */
export interface AuditState {
  v: 1;
  /** Last line durably written: its seq, hash, and byte range in the log. seq 0 = empty log. */
  written: { seq: number; hash: string; offset: number; end: number };
  /** Newest seal line durably written, or null before the first seal. */
  sealed: { seq: number; through: number; head: string; mac: string; offset: number } | null;
  /** True only after close(): nothing may follow `written`. */
  closed: boolean;
}

export const EMPTY_STATE: AuditState = {
  v: 1,
  written: { seq: 0, hash: GENESIS, offset: 0, end: 0 },
  sealed: null,
  closed: false,
};

const int = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const hex64 = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
// A MAC (16 or 32 bytes) or an RSA signature (up to 512 bytes), by the audit key's seal kind.
const sealHex = (v: unknown) => typeof v === 'string' && /^(?:[0-9a-f]{2}){16,512}$/.test(v);

export function parseState(text: string): AuditState | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return `${STATE_FILE} is not valid JSON`;
  }
  if (!isPlainObject(raw) || raw.v !== 1) return `${STATE_FILE} has an unknown format`;
  const w = raw.written;
  if (
    !isPlainObject(w) ||
    !int(w.seq) ||
    !hex64(w.hash) ||
    !int(w.offset) ||
    !int(w.end) ||
    w.end < w.offset
  ) {
    return `${STATE_FILE} has no valid "written" record`;
  }
  const s = raw.sealed;
  if (
    s !== null &&
    (!isPlainObject(s) ||
      !int(s.seq) ||
      !int(s.through) ||
      !hex64(s.head) ||
      !sealHex(s.mac) ||
      !int(s.offset))
  ) {
    return `${STATE_FILE} has an invalid "sealed" record`;
  }
  if (typeof raw.closed !== 'boolean') return `${STATE_FILE} has no "closed" flag`;
  return raw as unknown as AuditState;
}

/** The state, null when the file does not exist; throws AUDIT_TAMPERED when it is unreadable. */
export async function readState(dir: string): Promise<AuditState | null> {
  let text: string;
  try {
    text = await readFile(join(dir, STATE_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new MkmError('IO_ERROR', undefined, { file: STATE_FILE });
  }
  const state = parseState(text);
  if (typeof state === 'string') throw new MkmError('AUDIT_TAMPERED', undefined, { reason: state });
  return state;
}

/** Write-then-rename so a reader sees the old or the new state, never half of one. */
export async function writeState(dir: string, state: AuditState, durable: boolean): Promise<void> {
  const path = join(dir, STATE_FILE);
  const tmp = `${path}.tmp`;
  try {
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(state) + '\n');
      if (durable) await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (error) {
    // A full disk or a bad folder leaves no half-written temp file behind.
    await rm(tmp, { force: true }).catch(() => undefined);
    throw error;
  }
}
