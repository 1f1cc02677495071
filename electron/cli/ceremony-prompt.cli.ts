import { MkmError } from '../../shared/errors.std';

/**
 * What a ceremony run at the command line reads from people: names, passphrases and components,
 * typed at a terminal with echo off (a component shows as masked groups of four, so the
 * custodian sees how far they are without anyone seeing a digit), or, when stdin is not a
 * terminal, components one line each. Secrets are collected into Buffers the caller zero-fills
 * once used; a string is made of one only where a parser needs it, and dropped at once.
 */

/** How a masked component reads while typed: one dot per hex digit, in groups of four. */
export function maskedGroups(digits: number): string {
  const groups: string[] = [];
  for (let left = digits; left > 0; left -= 4) groups.push('•'.repeat(Math.min(4, left)));
  return groups.join(' ');
}

function isHexDigit(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66);
}

/** Wipes the screen and its scroll-back: what one custodian typed or saw is not there for the next. */
export const CLEAR_SCREEN = '\x1b[2J\x1b[3J\x1b[H';

export type EchoMode = 'echo' | 'hidden' | 'component';

/** The most a line holds: a 9-component prompt's component with separators, a long passphrase. */
const MAX_LINE = 1024;

export interface TtyIo {
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
}

/**
 * One line typed at the terminal, with echo as asked: `echo` shows it (names, yes/no), `hidden`
 * shows nothing (passphrases), `component` shows masked groups of four. Ctrl-C refuses with
 * CANCELLED. The bytes are returned in a Buffer the caller wipes.
 */
export function readTtyLine(
  prompt: string,
  mode: EchoMode,
  io: TtyIo = { input: process.stdin, output: process.stderr },
): Promise<Buffer> {
  const { input, output } = io;
  output.write(prompt);
  input.setRawMode(true);
  input.resume();
  const line = Buffer.alloc(MAX_LINE);
  let length = 0;
  const digits = () => {
    let n = 0;
    for (let i = 0; i < length; i++) if (isHexDigit(line[i]!)) n++;
    return n;
  };
  const redraw = () => output.write(`\r\x1b[K${prompt}${maskedGroups(digits())}`);
  return new Promise<Buffer>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      try {
        for (const byte of chunk) {
          if (byte === 0x0d || byte === 0x0a || byte === 0x04) {
            done();
            const out = Buffer.from(line.subarray(0, length));
            line.fill(0);
            resolve(out);
            return;
          }
          if (byte === 0x03) {
            done();
            line.fill(0);
            reject(new MkmError('CANCELLED'));
            return;
          }
          if (byte === 0x7f || byte === 0x08) {
            if (length > 0) {
              length--;
              line[length] = 0;
              if (mode === 'echo') output.write('\b \b');
            }
          } else if (byte >= 0x20 && length < MAX_LINE) {
            line[length++] = byte;
            if (mode === 'echo') output.write(Buffer.from([byte]));
          }
          if (mode === 'component') redraw();
        }
      } finally {
        chunk.fill(0);
      }
    };
    const done = () => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
    };
    input.on('data', onData);
  });
}

/**
 * Lines of stdin when it is not a terminal, one at a time, as Buffers the caller wipes; what is
 * read ahead is zero-filled as it is consumed. `null` once stdin ends.
 */
export class StdinLines {
  private pending = Buffer.alloc(0);
  private iterator: AsyncIterator<Buffer> | null = null;
  private ended = false;

  constructor(private readonly input: NodeJS.ReadableStream = process.stdin) {}

  async next(): Promise<Buffer | null> {
    for (;;) {
      const at = this.pending.indexOf(0x0a);
      if (at >= 0) {
        const end = at > 0 && this.pending[at - 1] === 0x0d ? at - 1 : at;
        const line = Buffer.from(this.pending.subarray(0, end));
        const rest = Buffer.from(this.pending.subarray(at + 1));
        this.pending.fill(0);
        this.pending = rest;
        return line;
      }
      if (this.ended) {
        if (this.pending.length === 0) return null;
        const line = this.pending;
        this.pending = Buffer.alloc(0);
        return line;
      }
      this.iterator ??= (this.input as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      const r = await this.iterator.next();
      if (r.done) {
        this.ended = true;
        continue;
      }
      const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      const joined = Buffer.concat([this.pending, chunk]);
      this.pending.fill(0);
      chunk.fill(0);
      this.pending = joined;
    }
  }

  /** Stops reading; what was read ahead and not used is wiped. */
  async close(): Promise<void> {
    this.pending.fill(0);
    this.pending = Buffer.alloc(0);
    await this.iterator?.return?.();
  }
}
