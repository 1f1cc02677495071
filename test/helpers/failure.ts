import { expect } from 'vitest';
import { MkmError } from '../../shared/errors.std';

/** The MkmError a call fails with; the test fails when the call succeeds or throws anything else. */
export async function failure(p: Promise<unknown>): Promise<MkmError> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(MkmError);
    return error as MkmError;
  }
  throw new Error('expected the call to fail');
}

/** The MkmError a synchronous call fails with; the test fails when it succeeds or throws anything else. */
export function refusal(fn: () => unknown): MkmError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MkmError);
    return error as MkmError;
  }
  throw new Error('expected a refusal');
}
