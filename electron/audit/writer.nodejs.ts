import type { FileHandle } from 'node:fs/promises';
import { MkmError } from '../../shared/errors.std';
import type { Logger } from '../core/logger.nodejs';
import type { AuditLock } from './lock.nodejs';
import { LOG_FILE, sha256Hex } from './record.nodejs';
import { writeState } from './state.nodejs';
import type { AuditState } from './state.nodejs';

/**
 * The audit log's writer: the head of the chain (last seq, its hash and offset) and the lines
 * not yet on disk. Appends are synchronous and cheap: build the canonical line, hash it, queue
 * it. The writer flushes the queue every `flushMs` (and on flush()/close(), or when 1 MiB is
 * queued) with one write + fdatasync per batch, then records the durable end in
 * audit.state.json. One writer per folder (lock.nodejs.ts): two writers would fork the chain,
 * so it re-checks that the lock is still its own before every batch and stops writing (flush
 * rejects with CONFLICT) if not.
 */

interface Waiter {
  seq: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export type SealInfo = NonNullable<AuditState['sealed']>;

const BATCH_BYTES = 1 << 20;
const RETRY_MS = 1000;

export function toErrorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown';
}

export class AuditWriter {
  // Appended (maybe only in memory).
  lastSeq: number;
  lastHash: string;
  lastOffset: number;
  appendedBytes: number;
  /** The newest seal line: what the next state records as sealed. */
  lastSeal: SealInfo | null;

  // Durable.
  durableSeq: number;
  /** Bytes in the file (written, maybe not yet fsynced): where a paused verify stops reading. */
  fileBytes: number;
  /** Set while writes fail (disk full, permissions): the code of the last failure. */
  writeError: string | undefined;

  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private waiters: Waiter[] = [];
  private writing: Promise<void> | null = null;
  /** Count of verify() calls holding the writer; it writes only at 0. */
  private paused = 0;
  private flushTimer: NodeJS.Timeout | null = null;
  private fhClosed = false;
  private lockLost = false;

  constructor(
    private readonly fh: FileHandle,
    private readonly lock: AuditLock,
    private readonly dir: string,
    private readonly durable: boolean,
    private readonly flushMs: number,
    private readonly logger: Logger,
    head: { lastSeq: number; lastHash: string; lastOffset: number; bytes: number; lastSeal: SealInfo | null },
  ) {
    this.lastSeq = head.lastSeq;
    this.lastHash = head.lastHash;
    this.lastOffset = head.lastOffset;
    this.appendedBytes = head.bytes;
    this.durableSeq = head.lastSeq;
    this.fileBytes = head.bytes;
    this.lastSeal = head.lastSeal;
  }

  /** The file is closed: nothing more is written. */
  get closed(): boolean {
    return this.fhClosed;
  }

  /** Resolves when every entry appended before the call is on disk (and fsynced if durable). */
  flush(): Promise<void> {
    const target = this.lastSeq;
    if (this.durableSeq >= target) return Promise.resolve();
    if (this.lockLost) {
      return Promise.reject(
        new MkmError('CONFLICT', 'Another process took over the audit log; this one stopped writing.'),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ seq: target, resolve, reject });
      this.kick();
    });
  }

  /** Runs `read` with the writer held (appends keep queueing), so the file is not read mid-write. */
  async held<T>(read: () => Promise<T>): Promise<T> {
    this.paused++;
    try {
      if (this.writing) await this.writing;
      return await read();
    } finally {
      this.paused--;
      if (this.pending.length) this.kick();
    }
  }

  /** Stops the timer and closes the file without writing anything more. */
  async closeFile(quiet = false): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.fhClosed = true;
    if (quiet) await this.fh.close().catch(() => undefined);
    else await this.fh.close();
  }

  writeLine(line: string): string {
    const buf = Buffer.from(line + '\n', 'utf8');
    const hash = sha256Hex(buf.subarray(0, buf.length - 1));
    this.lastSeq++;
    this.lastHash = hash;
    this.lastOffset = this.appendedBytes;
    this.appendedBytes += buf.length;
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    if (this.pendingBytes >= BATCH_BYTES) this.kick();
    else this.flushTimer ??= setTimeout(() => this.kick(), this.flushMs);
    return hash;
  }

  private kick(): void {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    if (this.writing || this.paused > 0 || this.fhClosed || this.lockLost || this.pending.length === 0)
      return;
    const run = this.writeLoop()
      .catch(() => false)
      .then((ok) => {
        this.writing = null;
        // After a failure the retry timer (or the next flush()) tries again, not a tight loop.
        if (ok && this.pending.length && this.paused === 0) this.kick();
      });
    this.writing = run;
  }

  /** One batch at a time, in append order; appends made meanwhile go into the next batch. */
  private async writeLoop(): Promise<boolean> {
    while (this.pending.length && this.paused === 0) {
      const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
      this.pending = [];
      this.pendingBytes = 0;
      const snapshot: AuditState = {
        v: 1,
        written: {
          seq: this.lastSeq,
          hash: this.lastHash,
          offset: this.lastOffset,
          end: this.appendedBytes,
        },
        sealed: this.lastSeal ? { ...this.lastSeal } : null,
        closed: false,
      };
      let done = 0;
      try {
        // A writer that lost its lock must not write another byte: that would fork the chain.
        if (!(await this.lock.stillHeld())) {
          this.lockLost = true;
          throw new MkmError(
            'CONFLICT',
            'Another process took over the audit log; this one stopped writing.',
          );
        }
        while (done < data.length) {
          const { bytesWritten } = await this.fh.write(data, done, data.length - done);
          done += bytesWritten;
        }
        this.fileBytes += data.length;
        if (this.durable) await this.fh.datasync();
        await writeState(this.dir, snapshot, this.durable);
        this.durableSeq = snapshot.written.seq;
        this.writeError = undefined;
        this.settle();
      } catch (error) {
        // Keep the unwritten bytes first in line: the chain is already committed to them. If
        // all were written but fsync or the state failed, the empty remainder still makes the
        // next attempt redo those before anyone is told the entries are durable.
        if (done < data.length) this.fileBytes += done;
        this.pending.unshift(data.subarray(done));
        this.pendingBytes += data.length - done;
        const failure =
          error instanceof MkmError
            ? error
            : new MkmError('IO_ERROR', undefined, { file: LOG_FILE, code: toErrorCode(error) });
        this.writeError = failure.code === 'IO_ERROR' ? toErrorCode(error) : failure.code;
        this.logger.error('audit log write failed', { code: toErrorCode(error) });
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w.reject(failure);
        this.flushTimer ??= setTimeout(() => this.kick(), RETRY_MS);
        return false;
      }
    }
    return true;
  }

  private settle(): void {
    const ready = this.waiters.filter((w) => w.seq <= this.durableSeq);
    this.waiters = this.waiters.filter((w) => w.seq > this.durableSeq);
    for (const w of ready) w.resolve();
  }
}
