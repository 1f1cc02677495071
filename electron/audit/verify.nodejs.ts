import { timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isUtf8 } from 'node:buffer';
import type { AuditVerifyReport } from '../../shared/contract/audit.std';
import { MkmError, toErrorShape } from '../../shared/errors.std';
import { readLines } from './line-reader.nodejs';
import { lockHolder } from './lock.nodejs';
import { GENESIS, LOG_FILE, STATE_FILE, parseLine, sealMessage, sha256Hex } from './record.nodejs';
import type { AuditSealRecord } from './record.nodejs';
import { readState } from './state.nodejs';
import type { AuditState } from './state.nodejs';
import { sameKey } from './sealer.nodejs';
import type { AuditKeyHandle, AuditSealer } from './sealer.nodejs';

export type AuditBadKind =
  /** The line is not a valid record. */
  | 'malformed'
  /** A seq is missing, repeated or out of place: deletion or reordering. */
  | 'sequence'
  /** The entry's bytes no longer hash to what the next line recorded: an edit. */
  | 'chain'
  /** A seal is wrong: bad MAC, unknown key, or entries that no longer match its head. */
  | 'seal'
  /** Lines the state file says were written are gone. */
  | 'truncated'
  /** The last line has no newline. */
  | 'torn'
  /** The state file is missing, unreadable, or disagrees with the log. */
  | 'state'
  /** A line after the point where the log was cleanly closed. */
  | 'after-close'
  /** The token's audit head names a seal this log does not hold: rolled back or replaced. */
  | 'rollback';

export interface AuditBadEntry {
  /** The seq the bad line has or should have; 0 when the problem is the state file itself. */
  seq: number;
  /** 1-based line number in audit.log (in an intact log, line === seq). */
  line: number;
  kind: AuditBadKind;
  reason: string;
}

/** The wire report (`shared/contract/audit.std.ts`), with the bad line's kind narrowed to ours. */
export interface VerifyReport extends Omit<AuditVerifyReport, 'firstBad'> {
  firstBad?: AuditBadEntry;
}

export interface VerifyOptions {
  dir: string;
  /** The audit key(s); more than one after a key rotation. Without one, seals are not checked. */
  sealer?: AuditSealer | AuditSealer[] | null;
  /** Check only this many bytes of the log: a writer in this process is paused at that size. */
  limitBytes?: number;
  /** Also check every field of lines a seal already vouches for (slower; for forensics). */
  deep?: boolean;
  /**
   * The audit keys the log itself names (audit.key.* entries). A seal by one of them that no
   * sealer can check (the key is not on this token) is reported as not checked, not as forged;
   * a seal by any other key is forged. Without the list every key without a sealer is refused.
   */
  pinned?: AuditKeyHandle[];
}

interface SeenSeal {
  record: AuditSealRecord;
  line: number;
  /** Entries with seq <= covers[1]. */
  entriesThrough: number;
  /** Byte offset of the line after covers[1]: where the part this seal does not vouch for starts. */
  nextOffset: number;
}

const FRAME_PREFIX = Buffer.from('{"v":1,"seq":');
const FRAME_ENTRY = Buffer.from(',"type":"entry",');
const FRAME_PREV = Buffer.from(',"prev":"');
// ,"prev":" + 64 hex + "}
const SUFFIX_BYTES = FRAME_PREV.length + 64 + 2;

/**
 * seq and prev of an entry line as the writer lays it out, read from fixed places without
 * JSON.parse; null for anything else (seals, or bytes the writer did not produce), which then
 * takes the full parse. `expectedPrev` (the hash of the line before, always 64 lowercase hex)
 * spares the hex check of a prev that equals it: such a prev is hex already.
 */
function frame(line: Buffer, expectedPrev?: string): { seq: number; prev: string; type: 'entry' } | null {
  const n = line.length;
  if (n < 128 || !bytesAt(line, 0, FRAME_PREFIX)) return null;
  let i = FRAME_PREFIX.length;
  if (line[i] === 48) return null;
  let seq = 0;
  while (i < n && i < FRAME_PREFIX.length + 15 && line[i]! >= 48 && line[i]! <= 57)
    seq = seq * 10 + line[i++]! - 48;
  if (i === FRAME_PREFIX.length) return null;
  if (!bytesAt(line, i, FRAME_ENTRY)) return null;
  const s = n - SUFFIX_BYTES;
  if (!bytesAt(line, s, FRAME_PREV)) return null;
  if (line[n - 2] !== 34 || line[n - 1] !== 125) return null;
  const prev = line.toString('latin1', s + FRAME_PREV.length, n - 2);
  return prev === expectedPrev || HEX64.test(prev) ? { seq, prev, type: 'entry' } : null;
}

/**
 * Whether `line` holds `bytes` at `at`. A plain loop: for these few bytes it costs less than
 * a call into Buffer#compare, and it runs several times on every line of the log.
 */
function bytesAt(line: Buffer, at: number, bytes: Buffer): boolean {
  if (at < 0 || at + bytes.length > line.length) return false;
  for (let k = 0; k < bytes.length; k++) if (line[at + k] !== bytes[k]) return false;
  return true;
}

const HEX64 = /^[0-9a-f]{64}$/;

const BATCH = 1000;

export async function verifyAuditLog(options: VerifyOptions): Promise<VerifyReport> {
  const { dir } = options;
  const sealers = options.sealer ? (Array.isArray(options.sealer) ? options.sealer : [options.sealer]) : [];
  const candidates: AuditBadEntry[] = [];
  // State first, then the log: a writer updates the state only after the log, so a live log is
  // never seen behind its state.
  let state: AuditState | null = null;
  try {
    state = await readState(dir);
  } catch (error) {
    const reason = error instanceof MkmError ? String(error.details?.reason ?? error.message) : 'unreadable';
    candidates.push({ seq: 0, line: 0, kind: 'state', reason });
  }
  const logPath = join(dir, LOG_FILE);
  if (!existsSync(logPath)) {
    if (state && state.written.seq > 0) {
      candidates.push({
        seq: 1,
        line: 1,
        kind: 'truncated',
        reason: `${LOG_FILE} is missing but ${STATE_FILE} records ${state.written.seq} written lines`,
      });
    }
    return finish(emptyReport(), candidates);
  }

  let expectedSeq = 1;
  let prev = GENESIS;
  let entries = 0;
  let stop: AuditBadEntry | undefined;
  // Hashes and offsets of lines after the sealed prefix, so a seal's head can be checked and
  // the unauthenticated tail re-read.
  let recentBase = 1;
  let recent: string[] = [];
  let recentEntries: boolean[] = [];
  let recentOffsets: number[] = [];
  let coverEnd = 0;
  const seals: SeenSeal[] = [];
  const sealSeqs = new Set<number>();
  let writtenHash: string | undefined;
  let stateSealLine: AuditSealRecord | 'not-a-seal' | undefined;

  const result = await readLines(
    logPath,
    {
      onLine(line, lineNo, offset) {
        const seq = expectedSeq;
        // Entry lines are only framed here (seq, prev); their fields are checked in the second
        // pass unless a seal proves the writer made them. Seals are always fully parsed.
        let record: { seq: number; prev: string; type: 'entry' } | AuditSealRecord | string | null = frame(
          line,
          prev,
        );
        if (record === null) record = isUtf8(line) ? parseLine(line.toString('utf8')) : 'not valid UTF-8';
        if (typeof record === 'string') {
          stop = {
            seq,
            line: lineNo,
            kind: 'malformed',
            reason: `line ${lineNo} is not a valid record: ${record}`,
          };
          return false;
        }
        if (record.seq !== seq) {
          const reason =
            record.seq > seq
              ? `entry ${seq} is missing: line ${lineNo} holds entry ${record.seq} (lines deleted or moved)`
              : `line ${lineNo} holds entry ${record.seq} where entry ${seq} belongs (lines moved or copied)`;
          stop = { seq, line: lineNo, kind: 'sequence', reason };
          return false;
        }
        if (record.prev !== prev) {
          stop =
            lineNo === 1
              ? { seq, line: 1, kind: 'chain', reason: 'entry 1 does not start the chain: it was changed' }
              : {
                  seq: seq - 1,
                  line: lineNo - 1,
                  kind: 'chain',
                  reason: `entry ${seq - 1} was changed: its bytes no longer hash to the link entry ${seq} recorded`,
                };
          return false;
        }
        const hash = sha256Hex(line);
        if (record.type === 'seal') {
          const [first, last] = record.covers;
          let bad: string | undefined;
          if (first !== coverEnd + 1) bad = `it covers from ${first} but the sealed part ends at ${coverEnd}`;
          else if (last >= seq) bad = `it covers entry ${last}, which is not before it`;
          else if (recent[last - recentBase] !== record.head) {
            bad = `entries ${first}-${last} no longer match the head it authenticates: one of them was changed`;
          }
          if (bad) {
            stop = { seq, line: lineNo, kind: 'seal', reason: `seal ${seq} is wrong: ${bad}` };
            return false;
          }
          const keep = last + 1 - recentBase;
          let after = 0;
          for (let i = keep; i < recent.length; i++) if (recentEntries[i]) after++;
          seals.push({
            record,
            line: lineNo,
            entriesThrough: entries - after,
            nextOffset: recentOffsets[keep] ?? offset,
          });
          sealSeqs.add(seq);
          recent = recent.slice(keep);
          recentEntries = recentEntries.slice(keep);
          recentOffsets = recentOffsets.slice(keep);
          recentBase = last + 1;
          coverEnd = last;
        } else {
          entries++;
        }
        recent.push(hash);
        recentEntries.push(record.type === 'entry');
        recentOffsets.push(offset);
        if (state && seq === state.written.seq) writtenHash = hash;
        if (state?.sealed && seq === state.sealed.seq)
          stateSealLine = record.type === 'seal' ? record : 'not-a-seal';
        prev = hash;
        expectedSeq++;
      },
    },
    { limitBytes: options.limitBytes },
  );

  const lastSeq = expectedSeq - 1;
  // A writer running right now may be mid-batch: bytes past the end its state confirms are in
  // flight, not torn. (AuditLog#verify holds its own writer, so it never sees this.)
  const inFlight =
    result.tornBytes > 0 &&
    state !== null &&
    result.tornOffset >= state.written.end &&
    (await lockHolder(dir)) !== null;
  if (stop) candidates.push(stop);
  else if (result.tornBytes > 0 && !inFlight) {
    candidates.push({
      seq: expectedSeq,
      line: result.lines + 1,
      kind: 'torn',
      reason:
        `line ${result.lines + 1} is incomplete: ${result.tornBytes} bytes without a newline ` +
        `(a write cut short by a crash, or the file was cut)`,
    });
  }
  if (!stop && state) {
    const w = state.written;
    if (w.seq > lastSeq) {
      candidates.push({
        seq: lastSeq + 1,
        line: result.lines + 1,
        kind: 'truncated',
        reason: `the log ends at entry ${lastSeq} but ${STATE_FILE} records entry ${w.seq} as written: entries ${lastSeq + 1}-${w.seq} were removed`,
      });
    } else if (w.seq > 0 && writtenHash !== w.hash) {
      candidates.push({
        seq: w.seq,
        line: w.seq,
        kind: 'state',
        reason: `entry ${w.seq} differs from the last entry ${STATE_FILE} recorded as written: it was changed`,
      });
    }
    if (state.sealed && state.sealed.seq <= lastSeq) {
      const s = stateSealLine;
      if (
        s === undefined ||
        s === 'not-a-seal' ||
        s.mac !== state.sealed.mac ||
        s.covers[1] !== state.sealed.through
      ) {
        candidates.push({
          seq: state.sealed.seq,
          line: state.sealed.seq,
          kind: 'state',
          reason: `line ${state.sealed.seq} is not the seal ${STATE_FILE} recorded: it was replaced`,
        });
      }
    }
    if (state.closed && lastSeq > w.seq) {
      candidates.push({
        seq: w.seq + 1,
        line: w.seq + 1,
        kind: 'after-close',
        reason: `entry ${w.seq + 1} was added after the log was closed at entry ${w.seq}`,
      });
    }
  } else if (!stop && state === null && lastSeq > 0 && candidates.length === 0) {
    candidates.push({ seq: 0, line: 0, kind: 'state', reason: `${STATE_FILE} is missing` });
  }
  const unconfirmed = state && !state.closed && lastSeq > state.written.seq ? lastSeq - state.written.seq : 0;

  // Seals after the first structural problem prove nothing; check the MACs of those before it.
  const structuralFirst = earliest(candidates);
  const usable = seals.filter((s) => structuralFirst === undefined || s.record.seq < structuralFirst.seq);
  let sealsVerified = sealers.length > 0 || usable.length === 0;
  let sealError: string | undefined;
  let validThrough = usable.length;
  if (sealers.length > 0 && usable.length > 0) {
    try {
      const firstInvalid = await firstInvalidSeal(usable, sealers, options.pinned);
      if (firstInvalid.unchecked > 0) {
        sealsVerified = false;
        sealError = 'AUDIT_KEY_NOT_ON_TOKEN';
      }
      if (firstInvalid.bad) {
        validThrough = firstInvalid.index;
        candidates.push(firstInvalid.bad);
      }
    } catch (error) {
      sealsVerified = false;
      sealError = toErrorShape(error).code;
    }
  }
  const lastValid = validThrough > 0 ? usable[validThrough - 1] : undefined;
  const sealedThrough = lastValid ? lastValid.record.covers[1] : 0;

  // Second pass: lines after the newest good seal get every field checked. Lines a valid seal
  // covers were made by the writer (only the token can make the MAC), so parsing them again
  // proves nothing; that is what keeps verify near the cost of hashing. Without the token the
  // seals are only checked against the chain; parsing the lines they cover would not make them
  // authentic either (a forger writes well-formed lines), so `deep` is for forensics only.
  const trusted = options.deep ? undefined : lastValid;
  const checkedThrough = (earliest(candidates)?.seq ?? Infinity) - 1;
  const tailFrom = trusted ? trusted.record.covers[1] + 1 : 1;
  if (tailFrom <= Math.min(lastSeq, checkedThrough)) {
    let seq = tailFrom;
    await readLines(
      logPath,
      {
        onLine(line, lineNo) {
          if (seq > lastSeq || seq > checkedThrough) return false;
          let record = isUtf8(line) ? parseLine(line.toString('utf8')) : 'not valid UTF-8';
          // The first pass read seq and prev from their places; JSON.parse must see the same
          // values (a duplicated key would show the viewer something verify did not check).
          const framed = typeof record === 'string' ? null : frame(line);
          if (typeof record !== 'string' && (record.seq !== seq || (framed && framed.prev !== record.prev))) {
            record = 'seq or prev appears twice with different values';
          }
          if (typeof record === 'string') {
            candidates.push({
              seq,
              line: lineNo,
              kind: 'malformed',
              reason: `line ${lineNo} is not a valid record: ${record}`,
            });
            return false;
          }
          seq++;
        },
      },
      {
        start: trusted ? trusted.nextOffset : 0,
        firstLineNo: tailFrom,
        limitBytes: result.stopped ? options.limitBytes : result.tornOffset,
      },
    );
  }
  const unsealed = entries - (lastValid ? lastValid.entriesThrough : 0);
  let firstUnsealedSeq = sealedThrough + 1;
  while (sealSeqs.has(firstUnsealedSeq)) firstUnsealedSeq++;

  return finish(
    {
      ok: true,
      entries,
      lines: result.lines,
      seals: seals.length,
      sealsVerified,
      ...(sealError ? { sealError } : {}),
      sealedThrough,
      unsealed,
      ...(unsealed > 0 && firstUnsealedSeq <= lastSeq
        ? { firstUnsealed: { seq: firstUnsealedSeq, line: firstUnsealedSeq } }
        : {}),
      unconfirmed,
    },
    candidates,
  );
}

function emptyReport(): VerifyReport {
  return {
    ok: true,
    entries: 0,
    lines: 0,
    seals: 0,
    sealsVerified: true,
    sealedThrough: 0,
    unsealed: 0,
    unconfirmed: 0,
  };
}

function earliest(candidates: AuditBadEntry[]): AuditBadEntry | undefined {
  let best: AuditBadEntry | undefined;
  for (const c of candidates) if (!best || c.seq < best.seq) best = c;
  return best;
}

function finish(report: VerifyReport, candidates: AuditBadEntry[]): VerifyReport {
  const firstBad = earliest(candidates);
  return firstBad ? { ...report, ok: false, firstBad } : report;
}

async function firstInvalidSeal(
  seals: SeenSeal[],
  sealers: AuditSealer[],
  pinned: AuditKeyHandle[] | undefined,
): Promise<{ index: number; bad?: AuditBadEntry; unchecked: number }> {
  const valid: boolean[] = new Array<boolean>(seals.length).fill(false);
  const unknownKey: boolean[] = new Array<boolean>(seals.length).fill(false);
  const bySealer = new Map<AuditSealer, number[]>();
  let unchecked = 0;
  seals.forEach((s, i) => {
    const sealer = sealers.find((x) => sameKey(x.keyRef, s.record.sealKey));
    if (sealer) bySealer.set(sealer, [...(bySealer.get(sealer) ?? []), i]);
    else if (pinned?.some((k) => sameKey(k, s.record.sealKey))) {
      // An audit key the log named, not on this token (replaced, or another token): unchecked.
      valid[i] = true;
      unchecked++;
    } else unknownKey[i] = true;
  });
  for (const [sealer, indexes] of bySealer) {
    for (let from = 0; from < indexes.length; from += BATCH) {
      const chunk = indexes.slice(from, from + BATCH);
      const messages = chunk.map((i) => messageOf(seals[i]!.record));
      const macs = chunk.map((i) => Buffer.from(seals[i]!.record.mac, 'hex'));
      const results = await checkMacs(sealer, messages, macs);
      chunk.forEach((i, k) => (valid[i] = results[k] === true));
    }
  }
  const index = valid.findIndex((v) => !v);
  if (index === -1) return { index, unchecked };
  const s = seals[index]!;
  const key = s.record.sealKey;
  const reason = unknownKey[index]
    ? pinned
      ? `seal ${s.record.seq} was made with key ${key.id} (KCV ${key.kcv}), which the log never named as an audit key`
      : `seal ${s.record.seq} was made with key ${key.id} (KCV ${key.kcv}), which is not the audit key`
    : `seal ${s.record.seq} has a wrong MAC: it was forged or altered`;
  return { index, unchecked, bad: { seq: s.record.seq, line: s.line, kind: 'seal', reason } };
}

function messageOf(r: AuditSealRecord): Buffer {
  const key: AuditKeyHandle = r.sealKey;
  return sealMessage(r.covers[0], r.covers[1], r.head, r.time, key);
}

async function checkMacs(sealer: AuditSealer, messages: Buffer[], macs: Buffer[]): Promise<boolean[]> {
  if (sealer.verifyBatch) {
    const out = await sealer.verifyBatch(messages, macs);
    if (out.length !== messages.length)
      throw new MkmError('INTERNAL', 'The sealer answered a different count.');
    return out;
  }
  const expected = await sealer.macBatch(messages);
  if (expected.length !== messages.length)
    throw new MkmError('INTERNAL', 'The sealer answered a different count.');
  return expected.map((e, i) => e.length === macs[i]!.length && timingSafeEqual(e, macs[i]!));
}
