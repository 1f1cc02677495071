import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MkmError } from '../../shared/errors.std';
import { readLines } from './line-reader.nodejs';
import { LOG_FILE, isPlainObject, parseLine, sha256Hex } from './record.nodejs';
import type { SealedHead } from './sealer.nodejs';

/**
 * The audit log's anchor outside the data folder: after each seal is on disk, the token keeps
 * (in a private data object, writable only after a PIN login) the segment it belongs to (the
 * hash of the log's first line), the seal's seq and MAC and the audit key that made it. A file
 * writer who rolls audit.log and audit.state.json back together, or swaps in another log, cannot
 * move this head: at the next login (and at every verify with the token) the seal the token
 * names must still be in the log, or the log is refused as rolled back or replaced.
 *
 * One object per token holds the heads of every data folder that seals with it (keyed by the
 * audit folder's path), so two installations sharing a token do not read each other as rollbacks.
 */
export const AUDIT_HEAD_LABEL = 'mkm-audit-head';
const MAX_FOLDERS = 24;

/** The newest seal of a segment, as the token's head object keeps it: the sealer's own shape. */
export type AuditHead = SealedHead;

export interface AnchorBook {
  v: 1;
  /** Counts writes: a crash mid-replace leaves two objects, and the higher count is the newer. */
  n: number;
  logs: Record<string, AuditHead>;
}

/** Reads and writes the token's object; one value per object found (several = someone made one). */
export interface AnchorIo {
  read(): Promise<string[]>;
  write(valueBase64: string): Promise<void>;
}

const HEX64 = /^[0-9a-f]{64}$/;
/** A MAC (16 or 32 bytes) or an RSA signature (up to 512 bytes), by the key's seal kind. */
const SEAL_HEX = /^(?:[0-9a-f]{2}){16,512}$/;

export function parseAnchorBook(base64: string): AnchorBook | string {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(base64, 'base64').toString('utf8'));
  } catch {
    return 'the audit head on the token is not valid JSON';
  }
  if (!isPlainObject(raw) || raw.v !== 1 || !Number.isSafeInteger(raw.n) || !isPlainObject(raw.logs))
    return 'the audit head on the token has an unknown format';
  for (const head of Object.values(raw.logs)) {
    if (
      !isPlainObject(head) ||
      !HEX64.test(String(head.start)) ||
      !Number.isSafeInteger(head.seq) ||
      !Number.isSafeInteger(head.through) ||
      !SEAL_HEX.test(String(head.mac)) ||
      !isPlainObject(head.key) ||
      typeof head.time !== 'string'
    ) {
      return 'the audit head on the token holds an invalid record';
    }
  }
  return raw as unknown as AnchorBook;
}

/** The newest book on the token (null when there is none); an unreadable one is refused. */
async function readBook(io: AnchorIo): Promise<AnchorBook | null> {
  let newest: AnchorBook | null = null;
  for (const value of await io.read()) {
    const book = parseAnchorBook(value);
    if (typeof book === 'string') throw new MkmError('AUDIT_TAMPERED', undefined, { reason: book });
    if (!newest || book.n > newest.n) newest = book;
  }
  return newest;
}

/** This folder's head on the token, null when the token holds none for it. */
export async function readAnchor(io: AnchorIo, dir: string): Promise<AuditHead | null> {
  return (await readBook(io))?.logs[dir] ?? null;
}

export async function writeAnchor(io: AnchorIo, dir: string, head: AuditHead): Promise<void> {
  const book: AnchorBook = (await readBook(io)) ?? { v: 1, n: 0, logs: {} };
  book.n++;
  book.logs[dir] = head;
  // Bounded: the folders sealed longest ago go first (a test run makes many).
  const keep = Object.entries(book.logs)
    .sort((a, b) => (a[1].time < b[1].time ? 1 : -1))
    .slice(0, MAX_FOLDERS);
  book.logs = Object.fromEntries(keep);
  await io.write(Buffer.from(JSON.stringify(book), 'utf8').toString('base64'));
}

/** SHA-256 of a log's first line (its segment), null when it has none. */
export async function segmentStart(logPath: string): Promise<{ hash: string; line: string } | null> {
  if (!existsSync(logPath)) return null;
  let first: { hash: string; line: string } | null = null;
  await readLines(logPath, {
    onLine(line) {
      first = { hash: sha256Hex(line), line: line.toString('utf8') };
      return false;
    },
  });
  return first;
}

/** The MAC of the seal line at `seq`, 'not-a-seal', or null when the log ends before it. */
async function sealAt(logPath: string, seq: number): Promise<string | 'not-a-seal' | null> {
  let found: string | 'not-a-seal' | null = null;
  await readLines(logPath, {
    onLine(line, lineNo) {
      if (lineNo < seq) return;
      const record = parseLine(line.toString('utf8'));
      found =
        typeof record !== 'string' && record.type === 'seal' && record.seq === seq
          ? record.mac
          : 'not-a-seal';
      return false;
    },
  });
  return found;
}

/**
 * Whether the log in `dir` still holds the seal the token recorded for it; the reason it does
 * not, otherwise. A new segment is accepted only when its first entry names the quarantine
 * folder that holds the anchored log, seal included (the recovery path: nothing disappeared).
 */
export async function checkAnchor(dir: string, head: AuditHead): Promise<string | null> {
  const logPath = join(dir, LOG_FILE);
  const start = await segmentStart(logPath);
  if (start?.hash === head.start) {
    const mac = await sealAt(logPath, head.seq);
    if (mac === null) {
      return `the token's audit head is seal ${head.seq} (sealed ${head.time}), but the log ends before it: the log was rolled back`;
    }
    if (mac !== head.mac) {
      return `line ${head.seq} is not the seal the token recorded (sealed ${head.time}): the log was rolled back or rewritten`;
    }
    return null;
  }
  const first = start ? parseLine(start.line) : null;
  const movedTo =
    first && typeof first !== 'string' && first.type === 'entry' && first.action === 'audit.start'
      ? first.details?.quarantinedTo
      : undefined;
  if (typeof movedTo === 'string' && /^quarantine-[A-Za-z0-9-]+$/.test(movedTo)) {
    const old = join(dir, movedTo, LOG_FILE);
    if ((await segmentStart(old))?.hash === head.start && (await sealAt(old, head.seq)) === head.mac)
      return null;
  }
  return start
    ? `the log is not the one the token's audit head belongs to (seal ${head.seq}, sealed ${head.time}): it was replaced`
    : `the log is missing, but the token holds its head (seal ${head.seq}, sealed ${head.time})`;
}
