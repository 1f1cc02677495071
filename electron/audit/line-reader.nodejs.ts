import { open } from 'node:fs/promises';

/**
 * Streams a JSON Lines file in big chunks and hands each line to a callback as a view into
 * the chunk (no copy, no string until the caller wants one). Reads are async so a 100 MB log
 * does not freeze the Electron main process; the work per chunk is synchronous, which is
 * what makes it fast.
 */
export interface LineSink {
  /** `line` excludes the newline and is only valid during the call. Return false to stop. */
  onLine(line: Buffer, lineNo: number, offset: number): boolean | void;
}

export interface ReadLinesResult {
  /** Complete lines handed to the sink. */
  lines: number;
  /** Bytes after the last newline: a line that was never finished (crash) or was cut. */
  tornBytes: number;
  /** Byte offset where the torn remainder starts (the end of the last complete line). */
  tornOffset: number;
  stopped: boolean;
}

const CHUNK = 1 << 20;

export async function readLines(
  path: string,
  sink: LineSink,
  options: { start?: number; firstLineNo?: number; limitBytes?: number } = {},
): Promise<ReadLinesResult> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const end = Math.min(size, options.limitBytes ?? size);
    let position = options.start ?? 0;
    let lineNo = (options.firstLineNo ?? 1) - 1;
    let buf = Buffer.allocUnsafe(CHUNK);
    // [0, filled) holds unread bytes; bufOffset is the file offset of buf[0].
    let filled = 0;
    let bufOffset = position;
    while (position < end) {
      if (filled === buf.length) {
        // A single line longer than the buffer: grow rather than split it.
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      const want = Math.min(buf.length - filled, end - position);
      const { bytesRead } = await fh.read(buf, filled, want, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      filled += bytesRead;
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(10, start);
        if (nl === -1 || nl >= filled) break;
        lineNo++;
        if (sink.onLine(buf.subarray(start, nl), lineNo, bufOffset + start) === false) {
          return {
            lines: lineNo - (options.firstLineNo ?? 1) + 1,
            tornBytes: 0,
            tornOffset: 0,
            stopped: true,
          };
        }
        start = nl + 1;
      }
      if (start > 0) {
        buf.copy(buf, 0, start, filled);
        filled -= start;
        bufOffset += start;
      }
    }
    return {
      lines: lineNo - (options.firstLineNo ?? 1) + 1,
      tornBytes: filled,
      tornOffset: bufOffset,
      stopped: false,
    };
  } finally {
    await fh.close();
  }
}
