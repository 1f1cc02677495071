import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createOutput } from '../../../electron/cli/output.cli';
import { createLogger, type LogRecord } from '../../../electron/core/logger.nodejs';
import { ERROR_SENTENCES, MkmError, type ErrorCode } from '../../../shared/errors.std';

/**
 * Redaction must not garble the app's own words: every error code's sentence, and every fixed
 * sentence the code throws with a code, comes out of the logger and the CLI exactly as written.
 */

const root = join(import.meta.dirname, '../../..');

function sink(): { stream: typeof process.stdout; err: typeof process.stderr; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  // createOutput writes with write() only.
  return {
    stream: stream as unknown as typeof process.stdout,
    err: stream as unknown as typeof process.stderr,
    text: () => text,
  };
}

/** Through the logger (as a message and as an error field) and the CLI (human and --json). */
function rendered(code: ErrorCode, sentence: string) {
  const records: LogRecord[] = [];
  const logger = createLogger({ name: 'test', stderrLevel: 'silent', sink: (r) => records.push(r) });
  logger.error(sentence);
  logger.error('failed', { error: new MkmError(code, sentence) });
  const human = sink();
  const json = sink();
  createOutput(false, human.stream, human.err).fail(new MkmError(code, sentence));
  createOutput(true, json.stream, json.err).fail(new MkmError(code, sentence));
  return {
    logMessage: records[0]!.msg,
    logError: (records[1]!.error as { message: string }).message,
    cli: human.text(),
    json: (JSON.parse(json.text()) as { error: { message: string } }).error.message,
  };
}

/** Messages written as one fixed string where the code throws: new MkmError('CODE', '...'). */
function fixedMessages(): { file: string; code: ErrorCode; sentence: string }[] {
  const files = execFileSync('git', ['ls-files', 'electron', 'shared'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f.endsWith('.ts'));
  const out: { file: string; code: ErrorCode; sentence: string }[] = [];
  const literal =
    /new MkmError\(\s*'([A-Z0-9_]+)',\s*(?:'((?:\\.|[^'\\])*)'|"((?:\\.|[^"\\])*)"|`([^`$]*)`)/g;
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const m of text.matchAll(literal)) {
      const sentence = (m[2] ?? m[3] ?? m[4]!).replace(/\\(['"\\])/g, '$1');
      out.push({ file, code: m[1] as ErrorCode, sentence });
    }
  }
  return out;
}

describe('no error sentence is garbled by redaction', () => {
  it('every code in ERROR_SENTENCES reads the same in the log and at the CLI', () => {
    const codes = Object.keys(ERROR_SENTENCES) as ErrorCode[];
    expect(codes.length).toBeGreaterThan(80);
    for (const code of codes) {
      const sentence = ERROR_SENTENCES[code];
      const r = rendered(code, sentence);
      expect(r.logMessage, code).toBe(sentence);
      expect(r.logError, code).toBe(sentence);
      expect(r.cli, code).toBe(`mkm: ${sentence} [${code}]\n`);
      expect(r.json, code).toBe(sentence);
    }
  });

  it("every fixed sentence thrown with a code reads the same (the 'No PIN: set MKM_PIN' kind)", () => {
    const messages = fixedMessages();
    // The harvest works: the sentences once garbled are among them.
    expect(messages.map((m) => m.sentence)).toEqual(
      expect.arrayContaining([
        'No PIN: set MKM_PIN or run mkm in a terminal to be asked for it.',
        'Enter the PIN: this token has no PIN pad.',
      ]),
    );
    expect(messages.length).toBeGreaterThan(150);
    for (const { file, code, sentence } of messages) {
      const r = rendered(code, sentence);
      const where = `${file}: ${sentence}`;
      expect(r.logMessage, where).toBe(sentence);
      expect(r.cli, where).toBe(`mkm: ${sentence.replace(/\s*\n\s*/g, ' ')} [${code}]\n`);
    }
  });
});
