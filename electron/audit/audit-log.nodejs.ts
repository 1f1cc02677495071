/**
 * The tamper-evident audit log (PCI DSS v4 req. 10.2/10.3, and 3.6/3.7 for key management).
 *
 * DESIGN
 *
 * Files, in the data folder's audit/ directory:
 *   audit.log          append-only JSON Lines, one record per line, mode 0600
 *   audit.state.json   what the writer last made durable (see state.nodejs.ts)
 *   audit.lock         pid of the one process allowed to write
 *
 * Every line carries `prev`, the SHA-256 of the exact bytes of the line before it (64 zeros
 * for line 1), and `seq`, which must equal its line number. So any edit breaks a link, and any
 * deletion, duplication or reordering breaks the seq order; verify names the first place.
 *
 * Hashes alone stop nobody: whoever can edit the file can recompute them. Authenticity comes
 * from the token: a seal line `{type:"seal", covers:[a,b], head, sealKey, mac}` carries
 * HMAC-SHA256(audit key, "mkm-audit-seal|v1|a|b|head|time|keyId|kcv"), where head is the hash of
 * line b. Because head transitively commits to every line before it, one MAC authenticates
 * the whole prefix; entries are never MACed one by one, which is what makes 10,000+
 * appends/s possible with a token that does a few hundred MACs per second. The HMAC key is a
 * non-extractable key on the token (purpose 'audit'), so verification also goes through the
 * token (`AuditSealer.verifyBatch`), all seals in one batch.
 *
 * A seal message binds everything its line claims except its own seq/prev (not known until
 * the MAC is back; the chain and the next seal cover those), so even the newest seal cannot
 * be edited. Seal lines must be byte-canonical; entries are type-checked with no unknown
 * fields allowed.
 *
 * Verify streams the file in 1 MiB chunks (async reads, so the Electron main process keeps
 * answering) in two passes. Pass 1 hashes every line and reads seq/prev from their fixed
 * places in the writer's layout, checking order, links and each seal's head; seals are fully
 * parsed; then all seal MACs go to the token in one batch. Pass 2 fully parses only the lines
 * no valid seal vouches for: a line under a good MAC was written by this writer (only the
 * token can make the MAC), so re-parsing it proves nothing. That keeps verify near the cost
 * of hashing the file (see bench/audit.bench.ts); `deep: true` parses everything.
 *
 * Appends are synchronous and cheap: build the canonical line, hash it, queue it. A writer
 * flushes the queue every `flushMs` (and on flush()/close(), or when 1 MiB is queued) with
 * one write + fdatasync per batch, then records the durable end in audit.state.json. A sealer
 * loop seals every `sealEvery.entries` entries or `sealEvery.ms` ms, and on close. When the
 * token is logged out (`setSealer(null)`, or the MAC call fails) entries keep being written,
 * unsealed; the next seal after login covers them all, and verify reports how many entries
 * are not sealed yet and where they start.
 *
 * What the state file adds: a log that simply ends earlier looks intact, so truncation is
 * only visible against an outside record of where it ended. The state (written after the
 * log bytes are on disk, so it is never ahead of them) names the last durable line (seq,
 * hash, offset), the newest seal (seq, MAC) and whether the log was closed cleanly. verify
 * checks the log against it: lines missing before `written` = truncation; a changed last line
 * = edit; a line after a clean close = forgery; the recorded seal must be in the log.
 *
 * After a crash the log may end with a torn line (no newline) or hold lines the state never
 * confirmed. verify reports both precisely. open() does not drop anything silently: torn
 * bytes are copied to audit.torn-<seq>-<time>.bin before the log is cut back to its last
 * complete line, and the first entry written (`audit.start`) records the torn byte count,
 * the unconfirmed lines and whether the previous run closed cleanly (PCI 10.2.1.6: starting
 * and stopping of audit logs is itself logged). If open finds the log inconsistent with its
 * state (truncated, edited tail, lines after a clean close) it refuses with AUDIT_TAMPERED
 * rather than chaining new entries onto evidence of tampering; an admin can then move the
 * damaged files aside untouched (`AuditLog.quarantine`) and the new log's audit.start names
 * where they went and why.
 *
 * Limits, stated plainly: entries after the newest seal are protected only by the chain and
 * the state file, which someone with write access to the folder can rewrite together. The
 * sealer loop keeps that window short (seconds) while the token is logged in. Rolling log and
 * state back together to an older copy, or replacing or deleting the log, is caught against
 * the anchor outside this folder: a sealer's `recordHead` keeps each durable seal on the token
 * (anchor.nodejs.ts), and the app checks the log against it at login and verify.
 *
 * One writer per folder (lock.nodejs.ts: pid plus heartbeat; a dead or silent holder's lock is
 * taken over): two writers would fork the chain, so a writer re-checks that the lock is still
 * its own before every batch and stops writing (flush/close reject with CONFLICT) if not. Offline verify treats bytes past the state's durable end as
 * in flight, not torn, while another live process holds the lock.
 *
 * Secrets: `details` always goes through `redact`; key references are validated as
 * identifiers (CKA_ID hex, KCV, SPKI SHA-256), never key bytes.
 */
import { mkdir, open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { MkmError, isErrorCode, toErrorShape, type ErrorCode } from '../../shared/errors.std';
import { redact } from '../../shared/redact.std';
import { silentLogger } from '../core/logger.nodejs';
import { countSeal, type SealCounter } from '../lifecycle/usage-seals.nodejs';
import type { Logger } from '../core/logger.nodejs';
import { segmentStart } from './anchor.nodejs';
import { acquireLock } from './lock.nodejs';
import type { AuditLock } from './lock.nodejs';
import { quarantineLog } from './quarantine.nodejs';
import { recover, type AuditOpenReport, type Recovered } from './recovery.nodejs';
import {
  ACTION_PATTERN,
  LOG_FILE,
  MAX_DETAILS_CHARS,
  checkKeyRef,
  checkSealKey,
  isPlainObject,
  sealMessage,
  serializeEntry,
  serializeSeal,
} from './record.nodejs';
import type {
  AuditActor,
  AuditEntryRecord,
  AuditKeyRef,
  AuditResult,
  AuditSealRecord,
  AuditTokenRef,
  JsonValue,
} from './record.nodejs';
import { keyRefOut, sameKey, sealKindOf, sealLengthOk } from './sealer.nodejs';
import type { AuditKeyHandle, AuditSealer } from './sealer.nodejs';
import { writeState } from './state.nodejs';
import { verifyAuditLog } from './verify.nodejs';
import type { VerifyReport } from './verify.nodejs';
import { AuditWriter } from './writer.nodejs';

export * from './record.nodejs';
export * from './sealer.nodejs';
export * from './verify.nodejs';
export * from './query.nodejs';
export { LOCK_STALE_MS, lockHolder } from './lock.nodejs';
export type { AuditState } from './state.nodejs';
export type { AuditOpenReport } from './recovery.nodejs';
export type { QuarantineNote } from './quarantine.nodejs';

export interface AuditOpenOptions {
  /** The audit folder (dataPaths(root).audit); created 0700 if missing. */
  dir: string;
  actor: AuditActor;
  /** The token's audit key, when logged in. */
  sealer?: AuditSealer | null;
  clock?: () => Date;
  /** Seal after this many unsealed entries or this many ms, whichever first. Default 1000 / 5000. */
  sealEvery?: { entries?: number; ms?: number };
  /** Longest time an appended entry waits in memory before it is written. Default 20 ms. */
  flushMs?: number;
  /** fdatasync each batch (default true). Tests and benches may turn it off, never production. */
  durable?: boolean;
  logger?: Logger;
  /**
   * Told when sealing starts failing (the error code) or works again (null), once per change:
   * the app records the failure and the UI shows it.
   */
  onSealResult?: (error: ErrorCode | null) => void;
  /** Counts each seal as a use of the audit key (the app's usage service); none when absent. */
  countSeal?: SealCounter;
}

export interface AuditAppend {
  /** Dotted lower-case name: key.generate, key.rotate, token.login, audit.export. */
  action: string;
  result: AuditResult;
  key?: AuditKeyRef;
  /** Free-form facts; redacted before they are written. */
  details?: Record<string, unknown>;
  /** Overrides the log's current actor for this entry. */
  actor?: Partial<AuditActor>;
}

export interface AuditStatus {
  lastSeq: number;
  durableSeq: number;
  sealedThrough: number;
  unsealed: number;
  sealer: AuditKeyHandle | null;
  lastSealError?: string;
  /** Set while writes fail (disk full, permissions): the code of the last failure. */
  writeError?: string;
  closed: boolean;
}

export function currentOsUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? 'unknown';
  }
}
export class AuditLog {
  readonly dir: string;
  readonly openReport: AuditOpenReport;

  private readonly writer: AuditWriter;
  private readonly lock: AuditLock;
  private readonly clock: () => Date;
  private readonly logger: Logger;
  private readonly sealEntries: number;
  private actor: AuditActor;
  private sealer: AuditSealer | null = null;

  private unsealedEntries: number;
  private sealedThrough: number;

  private sealTimer: NodeJS.Timeout | null = null;
  private sealing: Promise<number> | null = null;
  private lastSealError: ErrorCode | undefined;
  private readonly onSealResult: ((error: ErrorCode | null) => void) | undefined;
  private readonly countSeal: SealCounter | undefined;
  private accepting = true;
  private closing: Promise<void> | null = null;
  /** SHA-256 of line 1: names this segment in the token's audit head. */
  private startHash: string | null = null;

  private constructor(init: Recovered & { options: AuditOpenOptions; fh: FileHandle; lock: AuditLock }) {
    const o = init.options;
    this.dir = o.dir;
    this.lock = init.lock;
    this.openReport = init.report;
    this.clock = o.clock ?? (() => new Date());
    this.logger = o.logger ?? silentLogger;
    this.sealEntries = Math.max(1, o.sealEvery?.entries ?? 1000);
    this.onSealResult = o.onSealResult;
    this.countSeal = o.countSeal;
    this.actor = checkActor(o.actor);
    this.writer = new AuditWriter(
      init.fh,
      init.lock,
      o.dir,
      o.durable ?? true,
      o.flushMs ?? 20,
      this.logger,
      init,
    );
    this.unsealedEntries = init.unsealed;
    this.sealedThrough = init.lastSeal?.through ?? 0;
    const sealMs = Math.max(10, o.sealEvery?.ms ?? 5000);
    this.sealTimer = setInterval(() => {
      if (this.unsealedEntries > 0) this.sealInBackground();
    }, sealMs);
    // The seal loop must not keep a CLI process alive; close() seals what is left.
    this.sealTimer.unref();
    if (o.sealer) this.setSealer(o.sealer, { record: false });
  }

  static async open(options: AuditOpenOptions): Promise<AuditLog> {
    const { dir } = options;
    checkActor(options.actor);
    const badKey = options.sealer ? checkSealKey(options.sealer.keyRef) : null;
    if (badKey) throw new MkmError('VALIDATION', 'The audit key reference is not valid.', { bad: badKey });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const lock = await acquireLock(dir);
    let log: AuditLog | undefined;
    try {
      const recovered = await recover(dir, options.clock ?? (() => new Date()));
      const fh = await open(join(dir, LOG_FILE), 'a', 0o600);
      log = new AuditLog({ options, fh, lock, ...recovered });
      const r = recovered.report;
      const sealKey = log.sealer?.keyRef;
      if (!r.created) log.startHash = (await segmentStart(join(dir, LOG_FILE)))?.hash ?? null;
      const started = log.append({
        action: 'audit.start',
        result: 'ok',
        ...(sealKey ? { key: { id: sealKey.id, kcv: sealKey.kcv } } : {}),
        details: {
          created: r.created,
          cleanShutdown: r.cleanShutdown,
          unconfirmedLines: r.unconfirmed,
          ...(r.torn ? { tornBytes: r.torn.bytes, tornSavedAs: r.torn.savedAs } : {}),
          ...(r.quarantine
            ? {
                quarantinedTo: r.quarantine.movedTo,
                quarantineReason: r.quarantine.reason,
                // Hashes under "fingerprint": the one name redaction keeps a 64-hex value under.
                ...(r.quarantine.head
                  ? {
                      quarantinedHead: {
                        seq: r.quarantine.head.seq,
                        lines: r.quarantine.head.lines,
                        fingerprint: r.quarantine.head.hash,
                      },
                      quarantinedLog: { fingerprint: r.quarantine.head.fileSha256 },
                    }
                  : {}),
              }
            : {}),
          pid: process.pid,
        },
      });
      if (r.created) log.startHash = started.hash;
      await log.flush();
      return log;
    } catch (error) {
      if (log) await log.abandon();
      await lock.release();
      throw error;
    }
  }

  /**
   * The way out of AUDIT_TAMPERED: moves the damaged log, its state and any torn-line copies
   * into quarantine-<time>/ untouched (evidence for the assessor), so the next open starts a
   * new chain whose audit.start names the folder and the reason. An admin decision, never
   * automatic; refuses while another process holds the log.
   */
  static async quarantine(
    dir: string,
    reason: string,
    clock: () => Date = () => new Date(),
  ): Promise<string> {
    return quarantineLog(dir, reason, clock);
  }

  /**
   * Queues one entry and returns its seq and line hash. Synchronous so that callers can log
   * in the same tick as the action; durable after the next flush (at most flushMs later).
   */
  append(entry: AuditAppend): { seq: number; hash: string } {
    if (!this.accepting) throw new MkmError('INTERNAL', 'The audit log is closed.');
    if (typeof entry.action !== 'string' || entry.action.length > 64 || !ACTION_PATTERN.test(entry.action)) {
      throw new MkmError('VALIDATION', 'The audit action name is not valid.', { field: 'action' });
    }
    if (entry.result !== 'ok' && !isErrorCode(entry.result)) {
      throw new MkmError('VALIDATION', 'The audit result must be "ok" or an error code.', {
        field: 'result',
      });
    }
    let key: AuditKeyRef | undefined;
    if (entry.key !== undefined) {
      key = { id: String(entry.key.id).toLowerCase() };
      if (entry.key.kcv !== undefined) key.kcv = String(entry.key.kcv).toLowerCase();
      if (entry.key.fingerprint !== undefined) key.fingerprint = String(entry.key.fingerprint).toLowerCase();
      const bad = checkKeyRef(key);
      if (bad)
        throw new MkmError('VALIDATION', 'The audit key reference is not valid.', { field: 'key', bad });
    }
    let details: { [key: string]: JsonValue } | undefined;
    if (entry.details !== undefined) {
      const safe = redact(entry.details);
      if (!isPlainObject(safe)) throw new MkmError('VALIDATION', 'Audit details must be an object.');
      // redact() leaves only JSON-able values; serializing once (in the line) is the hot path.
      details = safe as { [key: string]: JsonValue };
    }
    const actor = entry.actor ? checkActor({ ...this.actor, ...entry.actor }) : this.actor;
    const record: AuditEntryRecord = {
      v: 1,
      seq: this.writer.lastSeq + 1,
      type: 'entry',
      time: this.clock().toISOString(),
      actor,
      action: entry.action,
      ...(key ? { key } : {}),
      result: entry.result,
      ...(details ? { details } : {}),
      prev: this.writer.lastHash,
    };
    const line = serializeEntry(record);
    // Everything but details is bounded (names, ids, 256-char actor fields), so the line length
    // bounds the details without serializing them twice.
    if (details && line.length > MAX_DETAILS_CHARS + 2048) {
      throw new MkmError('VALIDATION', 'The audit details are too large.', { chars: line.length });
    }
    const hash = this.writer.writeLine(line);
    this.unsealedEntries++;
    if (this.sealer && this.unsealedEntries >= this.sealEntries && !this.sealing) this.sealInBackground();
    return { seq: record.seq, hash };
  }

  /** Who is acting: call when the token login changes (the OS user does not). */
  setActor(actor: Partial<AuditActor>): void {
    this.actor = checkActor({ ...this.actor, ...actor });
  }

  /**
   * The token's audit key became usable (login) or unusable (logout, null). Recorded in the
   * log, because a period without seals is something an assessor asks about.
   */
  setSealer(sealer: AuditSealer | null, options: { record?: boolean } = {}): void {
    if (sealer) {
      const bad = checkSealKey(sealer.keyRef);
      if (bad) throw new MkmError('VALIDATION', 'The audit key reference is not valid.', { bad });
    }
    const before = this.sealer;
    this.sealer = sealer;
    // Another key (or none): the previous key's failure says nothing about this one.
    if (sealer !== before) this.lastSealError = undefined;
    if (options.record ?? true) {
      const ref = sealer?.keyRef ?? before?.keyRef;
      this.append({
        action: sealer ? 'audit.sealer-attached' : 'audit.sealer-detached',
        result: 'ok',
        ...(ref ? { key: { id: ref.id, kcv: ref.kcv } } : {}),
      });
    }
    if (sealer && this.unsealedEntries > 0) setImmediate(() => this.sealInBackground());
  }

  /** Seals everything appended so far; resolves with the last sealed seq. Rejects if the token does. */
  async seal(): Promise<number> {
    while (this.sealing) await this.sealing.catch(() => undefined);
    if (this.writer.closed) return this.sealedThrough;
    const sealer = this.sealer;
    if (!sealer || this.unsealedEntries === 0) return this.sealedThrough;
    const run = this.sealOnce(sealer);
    this.sealing = run;
    try {
      return await run;
    } catch (error) {
      // Whoever asked, status() says why the entries are still unsealed.
      this.noteSeal(toErrorShape(error).code);
      throw error;
    } finally {
      if (this.sealing === run) this.sealing = null;
    }
  }
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /**
   * Writes audit.stop, seals if the token allows, flushes, marks the state closed, unlocks.
   * `quiet`: neither writes audit.stop nor seals (a damaged log about to be quarantined).
   */
  close(options: { quiet?: boolean } = {}): Promise<void> {
    if (options.quiet && !this.closing) {
      this.accepting = false;
      this.sealer = null;
    }
    this.closing ??= this.doClose();
    return this.closing;
  }

  status(): AuditStatus {
    return {
      lastSeq: this.writer.lastSeq,
      durableSeq: this.writer.durableSeq,
      sealedThrough: this.sealedThrough,
      unsealed: this.unsealedEntries,
      sealer: this.sealer ? { ...this.sealer.keyRef } : null,
      ...(this.lastSealError ? { lastSealError: this.lastSealError } : {}),
      ...(this.writer.writeError ? { writeError: this.writer.writeError } : {}),
      closed: !this.accepting,
    };
  }

  /**
   * Verifies this log while it is open: flushes, holds the writer (appends keep queueing) so
   * the file is not read mid-write, and checks it with the current sealer plus any others.
   */
  async verify(extraSealers: AuditSealer[] = [], pinned?: AuditKeyHandle[]): Promise<VerifyReport> {
    await this.flush();
    return this.writer.held(async () => {
      const own = this.sealer ? [this.sealer] : [];
      const sealers = [...own, ...extraSealers.filter((x) => !own.some((o) => sameKey(o.keyRef, x.keyRef)))];
      return await verifyAuditLog({
        dir: this.dir,
        sealer: sealers,
        limitBytes: this.writer.fileBytes,
        ...(pinned ? { pinned } : {}),
      });
    });
  }

  // ---------- internals ----------
  /** Stops timers and closes the file without writing anything more (open failed half-way). */
  private async abandon(): Promise<void> {
    this.accepting = false;
    if (this.sealTimer) clearInterval(this.sealTimer);
    await this.writer.closeFile(true);
  }

  /** The last seal's outcome; the listener hears only changes (not every failed retry). */
  private noteSeal(code: ErrorCode | undefined): void {
    if (code === this.lastSealError) return;
    this.lastSealError = code;
    try {
      this.onSealResult?.(code ?? null);
    } catch (error) {
      this.logger.warn('the seal listener failed', { error });
    }
  }

  private sealInBackground(): void {
    if (!this.sealer || this.sealing || !this.accepting) return;
    this.seal().catch((error: unknown) => {
      this.noteSeal(toErrorShape(error).code);
      this.logger.warn('audit seal failed; entries stay unsealed until the token is back', {
        code: this.lastSealError,
        unsealed: this.unsealedEntries,
      });
    });
  }

  private async sealOnce(sealer: AuditSealer): Promise<number> {
    const first = this.sealedThrough + 1;
    const last = this.writer.lastSeq;
    const head = this.writer.lastHash;
    const covered = this.unsealedEntries;
    const time = this.clock().toISOString();
    const sealKey: AuditKeyHandle = keyRefOut({
      ...sealer.keyRef,
      id: sealer.keyRef.id.toLowerCase(),
      kcv: sealer.keyRef.kcv.toLowerCase(),
    });
    const macs = await sealer.macBatch([sealMessage(first, last, head, time, sealKey)]);
    countSeal(this.countSeal, sealKey, 'audit-seal');
    const mac = macs[0];
    if (macs.length !== 1 || !mac || !sealLengthOk(sealKindOf(sealKey), mac.length)) {
      throw new MkmError('INTERNAL', 'The audit sealer returned a malformed MAC.');
    }
    const record: AuditSealRecord = {
      v: 1,
      seq: this.writer.lastSeq + 1,
      type: 'seal',
      time,
      covers: [first, last],
      head,
      sealKey,
      mac: mac.toString('hex'),
      prev: this.writer.lastHash,
    };
    this.writer.writeLine(serializeSeal(record));
    this.writer.lastSeal = {
      seq: record.seq,
      through: last,
      head,
      mac: record.mac,
      offset: this.writer.lastOffset,
    };
    this.sealedThrough = last;
    this.unsealedEntries -= covered;
    this.noteSeal(undefined);
    if (sealer.recordHead && this.startHash) {
      await this.flush();
      await sealer.recordHead({
        start: this.startHash,
        seq: record.seq,
        through: last,
        mac: record.mac,
        key: sealKey,
        time,
      });
    }
    return last;
  }

  private async doClose(): Promise<void> {
    if (this.accepting) {
      this.append({ action: 'audit.stop', result: 'ok', details: { pid: process.pid } });
    }
    this.accepting = false;
    if (this.sealTimer) clearInterval(this.sealTimer);
    try {
      if (this.sealer) {
        try {
          await this.seal();
        } catch (error) {
          this.noteSeal(toErrorShape(error).code);
          this.logger.warn('audit log closed with unsealed entries', { code: this.lastSealError });
        }
      }
      await this.flush();
      await writeState(
        this.dir,
        {
          v: 1,
          written: {
            seq: this.writer.lastSeq,
            hash: this.writer.lastHash,
            offset: this.writer.lastOffset,
            end: this.writer.appendedBytes,
          },
          sealed: this.writer.lastSeal,
          closed: true,
        },
        true,
      );
    } finally {
      await this.writer.closeFile();
      await this.lock.release();
    }
  }
}

export function openAuditLog(options: AuditOpenOptions): Promise<AuditLog> {
  return AuditLog.open(options);
}
function checkActor(actor: AuditActor): AuditActor {
  const ok = (s: unknown) => typeof s === 'string' && s.length > 0 && s.length <= 256;
  if (!actor || !ok(actor.osUser)) throw new MkmError('VALIDATION', 'The audit actor needs an OS user.');
  const t = actor.token;
  // Labels are space-padded on the token and may be blank once trimmed; serials never are.
  if (
    t !== null &&
    (typeof t !== 'object' || !ok(t.serial) || typeof t.label !== 'string' || t.label.length > 256)
  ) {
    throw new MkmError('VALIDATION', 'The audit actor token needs a serial and a label.');
  }
  const token: AuditTokenRef | null = t === null ? null : { serial: t.serial, label: t.label };
  return { osUser: actor.osUser, token };
}
