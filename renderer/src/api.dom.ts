import { decodeError } from '../../shared/api.std';
import type { MkmApi } from '../../shared/contract.std';
import type { MkmError } from '../../shared/errors.std';

declare global {
  interface Window {
    readonly mkm: MkmApi;
  }
}

/** The preload's object, typed from the contract. */
export const mkm = (): MkmApi => window.mkm;

/** A rejected call, as the typed error it was in main (whatever transport carried it). */
export function asMkmError(error: unknown): MkmError {
  return decodeError(error);
}
