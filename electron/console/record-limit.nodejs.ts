import { Transform, type TransformCallback } from 'node:stream';

/**
 * Bounds the size of a CSV record before the parser sees it, so one endless row (a wrong file,
 * a hostile one) costs at most `maxBytes` of memory and fails alone: its bytes are dropped as
 * they arrive and the parser gets one line holding only `OVERSIZE_RECORD` in its place; the
 * rows after it are read as usual. Records end at CR or LF outside quotes; a quote opens a quoted
 * field only at a field's start and "" inside one is a quote, as csv-parse reads them with
 * relax_quotes (a file where the two disagree is malformed, and csv-parse says so).
 */

/** Stands for a dropped record: a NUL cannot start a field of a CSV file meant for mkm. */
export const OVERSIZE_RECORD = '\u0000mkm:record-too-large';

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

export class RecordLimit extends Transform {
  /** The most bytes of one record held at any time (for tests: the bound holds). */
  peakHeld = 0;
  private pieces: Buffer[] = [];
  private held = 0;
  private dropping = false;
  private inQuotes = false;
  /** A quote seen inside a quoted field: the next byte says whether it was "" or the closing one. */
  private quotePending = false;
  private atFieldStart = true;

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.inQuotes) {
        if (this.quotePending) {
          this.quotePending = false;
          if (b === QUOTE) continue;
          this.inQuotes = false;
        } else {
          if (b === QUOTE) this.quotePending = true;
          continue;
        }
      }
      if (b === COMMA) this.atFieldStart = true;
      else if (b === QUOTE && this.atFieldStart) {
        this.inQuotes = true;
        this.atFieldStart = false;
      } else if (b === LF || b === CR) {
        this.keep(chunk.subarray(start, i + 1));
        start = i + 1;
        this.endRecord(b);
      } else this.atFieldStart = false;
    }
    this.keep(chunk.subarray(start));
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.inQuotes && this.quotePending) this.inQuotes = false;
    this.endRecord(null);
    done();
  }

  private keep(bytes: Buffer): void {
    if (this.dropping || bytes.length === 0) return;
    if (this.held + bytes.length > this.maxBytes) {
      this.dropping = true;
      this.pieces = [];
      this.held = 0;
      return;
    }
    this.pieces.push(Buffer.from(bytes));
    this.held += bytes.length;
    this.peakHeld = Math.max(this.peakHeld, this.held);
  }

  /** `end`: the CR or LF that ended the record, written after a stand-in so the delimiter stays the file's. */
  private endRecord(end: number | null): void {
    if (this.dropping) this.push(OVERSIZE_RECORD + (end === null ? '' : String.fromCharCode(end)));
    else if (this.held > 0) this.push(Buffer.concat(this.pieces));
    this.pieces = [];
    this.held = 0;
    this.dropping = false;
    this.atFieldStart = true;
  }
}
