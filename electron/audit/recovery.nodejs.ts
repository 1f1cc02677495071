import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MkmError } from '../../shared/errors.std';
import { readLines } from './line-reader.nodejs';
import { syncDir, takeQuarantineNote, type QuarantineNote } from './quarantine.nodejs';
import { GENESIS, LOG_FILE, STATE_FILE, parseLine, sha256Hex } from './record.nodejs';
import { EMPTY_STATE, readState, writeState } from './state.nodejs';
import type { SealInfo } from './writer.nodejs';

/**
 * Opening after a crash: the log may end with a torn line (no newline) or hold lines the state
 * never confirmed. Nothing is dropped silently: torn bytes are copied to
 * audit.torn-<seq>-<time>.bin before the log is cut back to its last complete line, and the
 * report says what was found, for the first entry written (`audit.start`). A log inconsistent
 * with its state (truncated, edited tail, lines after a clean close) is refused with
 * AUDIT_TAMPERED rather than chained onto.
 */

export interface AuditOpenReport {
  created: boolean;
  /** The previous run called close(). */
  cleanShutdown: boolean;
  /** Lines found after the last write the state confirmed (the previous run crashed). */
  unconfirmed: number;
  torn?: { bytes: number; savedAs: string; afterSeq: number };
  /** This log starts after AuditLog.quarantine moved a damaged one aside. */
  quarantine?: QuarantineNote;
}

function tampered(reason: string, seq: number, line: number = seq): MkmError {
  return new MkmError('AUDIT_TAMPERED', undefined, { reason, seq, line });
}

export interface Recovered {
  report: AuditOpenReport;
  lastSeq: number;
  lastHash: string;
  lastOffset: number;
  bytes: number;
  unsealed: number;
  lastSeal: SealInfo | null;
}

/**
 * Where to continue, read from the tail only: the state names the byte offsets of the newest
 * seal and the last durable line, so open costs the unsealed tail, not the whole log. Checks
 * that tail against the state and refuses a log that disagrees with it.
 */
export async function recover(dir: string, clock: () => Date): Promise<Recovered> {
  const logPath = join(dir, LOG_FILE);
  const state = await readState(dir);
  if (!existsSync(logPath)) {
    if (state && state.written.seq > 0) throw tampered(`${LOG_FILE} is missing`, 1);
    // State first: from now on a log without a state is evidence, not a fresh start.
    const quarantine = await takeQuarantineNote(dir);
    await writeState(dir, EMPTY_STATE, true);
    await writeFile(logPath, '', { flag: 'a', mode: 0o600 });
    await syncDir(dir);
    return {
      report: { created: true, cleanShutdown: true, unconfirmed: 0, ...(quarantine ? { quarantine } : {}) },
      lastSeq: 0,
      lastHash: GENESIS,
      lastOffset: 0,
      bytes: 0,
      unsealed: 0,
      lastSeal: null,
    };
  }
  const fh = await open(logPath, 'r');
  let size: number;
  try {
    size = (await fh.stat()).size;
    const s0 = state ?? (size === 0 ? EMPTY_STATE : null);
    if (!s0) throw tampered(`${STATE_FILE} is missing`, 0);
    if (size < s0.written.end) {
      throw tampered(`the log is shorter than ${STATE_FILE} records: entries were removed`, s0.written.seq);
    }
    const start = s0.sealed ? Math.min(s0.sealed.offset, s0.written.offset) : s0.written.offset;
    if (start > 0) {
      const probe = Buffer.alloc(1);
      await fh.read(probe, 0, 1, start - 1);
      if (probe[0] !== 10) throw tampered(`${STATE_FILE} does not point at a line start`, s0.written.seq);
    }
  } finally {
    await fh.close();
  }
  const s = state ?? EMPTY_STATE;
  const startSeq = s.sealed ? Math.min(s.sealed.seq, s.written.seq) : s.written.seq;
  const start = s.sealed ? Math.min(s.sealed.offset, s.written.offset) : s.written.offset;

  let expected = Math.max(1, startSeq);
  let prev: string | undefined = startSeq === 0 ? GENESIS : undefined;
  let lastHash = s.written.seq === 0 ? GENESIS : s.written.hash;
  let lastOffset = s.written.offset;
  let lastSeal: SealInfo | null = null;
  // Before the state's first seal every line is an entry (the state records every durable seal).
  let unsealed = s.sealed ? 0 : Math.max(0, s.written.seq - 1);
  let problem: MkmError | undefined;
  let sawWritten = s.written.seq === 0;

  const result = await readLines(
    logPath,
    {
      onLine(line, lineNo, offset) {
        const record = parseLine(line.toString('utf8'));
        if (typeof record === 'string') {
          problem = tampered(`line ${lineNo} is not a valid record: ${record}`, expected, lineNo);
          return false;
        }
        if (record.seq !== expected) {
          problem = tampered(
            `line ${lineNo} holds entry ${record.seq} where ${expected} belongs`,
            expected,
            lineNo,
          );
          return false;
        }
        if (prev !== undefined && record.prev !== prev) {
          problem = tampered(`entry ${expected - 1} was changed`, expected - 1, lineNo - 1);
          return false;
        }
        const hash = sha256Hex(line);
        if (record.seq === s.written.seq) {
          if (hash !== s.written.hash || offset !== s.written.offset) {
            problem = tampered(`entry ${record.seq} differs from the one ${STATE_FILE} recorded`, record.seq);
            return false;
          }
          sawWritten = true;
        }
        if (s.sealed && record.seq === s.sealed.seq) {
          if (record.type !== 'seal' || record.mac !== s.sealed.mac || offset !== s.sealed.offset) {
            problem = tampered(`seal ${record.seq} is not the one ${STATE_FILE} recorded`, record.seq);
            return false;
          }
        }
        if (record.type === 'seal') {
          const through = record.covers[1];
          lastSeal = { seq: record.seq, through, head: record.head, mac: record.mac, offset };
          // Between the sealed head and the seal line there can only be entries: one seal at a time.
          unsealed = record.seq - through - 1;
        } else {
          unsealed++;
        }
        prev = hash;
        lastHash = hash;
        lastOffset = offset;
        expected++;
      },
    },
    { start, firstLineNo: Math.max(1, startSeq) },
  );
  if (problem) throw problem;
  if (!sawWritten)
    throw tampered(`entry ${s.written.seq} recorded in ${STATE_FILE} is not in the log`, s.written.seq);
  const lastSeq = expected - 1;
  const unconfirmed = lastSeq - s.written.seq;
  if (s.closed && (unconfirmed > 0 || result.tornBytes > 0)) {
    throw tampered(`entry ${s.written.seq + 1} was added after the log was closed`, s.written.seq + 1);
  }
  let torn: AuditOpenReport['torn'];
  let bytes = size;
  if (result.tornBytes > 0) {
    // Letters before the numbers (seq, random part): a digit run here would read as a card
    // number to the redaction of the entry that names the file.
    const savedAs = `audit.torn-seq${lastSeq + 1}-${clock().toISOString().replace(/[:.]/g, '-')}-r${randomUUID().slice(0, 8)}.bin`;
    const fh2 = await open(logPath, 'r');
    try {
      const bytesTorn = Buffer.alloc(result.tornBytes);
      await fh2.read(bytesTorn, 0, bytesTorn.length, result.tornOffset);
      await writeFile(join(dir, savedAs), bytesTorn, { mode: 0o600, flag: 'wx' });
    } finally {
      await fh2.close();
    }
    await truncate(logPath, result.tornOffset);
    bytes = result.tornOffset;
    torn = { bytes: result.tornBytes, savedAs, afterSeq: lastSeq };
  }
  const sealedInfo: SealInfo | null = lastSeal ?? s.sealed;
  // Re-anchor the state on what is really there before anything new is written.
  await writeState(
    dir,
    {
      v: 1,
      written: { seq: lastSeq, hash: lastHash, offset: lastOffset, end: bytes },
      sealed: sealedInfo,
      closed: false,
    },
    true,
  );
  return {
    report: { created: false, cleanShutdown: s.closed, unconfirmed, ...(torn ? { torn } : {}) },
    lastSeq,
    lastHash,
    lastOffset,
    bytes,
    unsealed,
    lastSeal: sealedInfo,
  };
}
