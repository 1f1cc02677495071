import { MkmError, toErrorShape, type MkmErrorShape } from '../../shared/errors.std';
import { redactString } from '../../shared/redact.std';

/**
 * Exit codes scripts can rely on: 0 success, 1 an operation failed (the error code says why),
 * 2 the command line itself was wrong.
 */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

export interface Output {
  json: boolean;
  result(value: unknown, human: () => string): void;
  fail(error: unknown): number;
}

export function createOutput(json: boolean, out = process.stdout, err = process.stderr): Output {
  return {
    json,
    result(value, human) {
      out.write(json ? JSON.stringify(value, null, 2) + '\n' : human() + '\n');
    },
    fail(error) {
      const shape: MkmErrorShape = toErrorShape(error);
      // One line, always: scripts grep it, humans read it.
      const line = (redactString(shape.message) + pinWarning(shape)).replace(/\s*\n\s*/g, ' ');
      if (json) out.write(JSON.stringify({ error: { code: shape.code, message: line } }) + '\n');
      else err.write(`mkm: ${line} [${shape.code}]\n`);
      return shape.code === 'USAGE' ? EXIT.USAGE : EXIT.FAILED;
    },
  };
}

export function usage(message: string): MkmError {
  return new MkmError('USAGE', message);
}

/** After a wrong PIN the token says how close it is to locking; an admin must hear it. */
export function pinWarning(shape: MkmErrorShape): string {
  if (shape.code !== 'PIN_INCORRECT' || !shape.details) return '';
  if (shape.details.locked) return ' The PIN is now locked.';
  if (shape.details.finalTry) return ' One try is left before the PIN locks.';
  if (shape.details.countLow) return ' Few tries are left before the PIN locks.';
  return '';
}
