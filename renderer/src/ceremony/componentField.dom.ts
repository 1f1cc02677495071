import type { ComponentKeyType } from '../../../shared/ceremony/script.std';
import type { ErrorCode } from '../../../shared/errors.std';
import { readComponent } from '../../../shared/formats/component-entry.std';
import { COMPONENT_KEY_BYTES, wipe } from '../../../shared/formats/components.std';

/**
 * The component field's state machine. What a custodian types lives only in the input element;
 * the state holds what the page may show about it (how many digits, the typo checksum once the
 * component is complete, the refusal that names a position), and after submit not even that:
 * only the check values the token computed. Confirming them returns the field to its first state,
 * so nothing of one custodian's component is left for the next.
 */

export interface FieldProblem {
  code: ErrorCode;
  message: string;
}

export type ComponentFieldState =
  | {
      phase: 'typing';
      digits: number;
      expected: number;
      /** Only for a complete component (see componentChecksum: never per keystroke). */
      checksum: string | null;
      problem: FieldProblem | null;
    }
  | { phase: 'sending' }
  | { phase: 'check-kcv'; kcvs: [string, string][] };

export type ComponentFieldEvent =
  | { type: 'typed'; digits: number; checksum: string | null; problem: FieldProblem | null }
  | { type: 'submitted' }
  | { type: 'failed' }
  | { type: 'accepted'; kcvs: [string, string][] }
  | { type: 'confirmed' };

export function initialComponentField(keyType: ComponentKeyType): ComponentFieldState {
  return {
    phase: 'typing',
    digits: 0,
    expected: COMPONENT_KEY_BYTES[keyType] * 2,
    checksum: null,
    problem: null,
  };
}

export function componentFieldReducer(
  keyType: ComponentKeyType,
): (state: ComponentFieldState, event: ComponentFieldEvent) => ComponentFieldState {
  return (state, event) => {
    switch (event.type) {
      case 'typed':
        if (state.phase !== 'typing') return state;
        return { ...state, digits: event.digits, checksum: event.checksum, problem: event.problem };
      case 'submitted':
        return state.phase === 'typing' && state.checksum !== null && state.problem === null
          ? { phase: 'sending' }
          : state;
      // The field was cleared on the way out: a refused or lost submission is typed again.
      case 'failed':
        return initialComponentField(keyType);
      case 'accepted':
        return state.phase === 'sending' ? { phase: 'check-kcv', kcvs: event.kcvs } : state;
      case 'confirmed':
        return initialComponentField(keyType);
    }
  };
}

/**
 * What the field may show about `text`: the count of hex digits, and, once complete, the typo
 * checksum and the refusal (non-hex character, length, TDES parity named by byte, all zeros).
 * The bytes read are wiped before returning.
 */
export function describeTyping(
  text: string,
  keyType: ComponentKeyType,
  index: number,
): { type: 'typed'; digits: number; checksum: string | null; problem: FieldProblem | null } {
  let digits = 0;
  for (const c of text) if (/[0-9a-fA-F]/.test(c)) digits++;
  const expected = COMPONENT_KEY_BYTES[keyType] * 2;
  const reading = readComponent(text, keyType, index);
  if (reading.ok) {
    wipe(reading.bytes);
    return { type: 'typed', digits, checksum: reading.checksum, problem: null };
  }
  // A length refusal is the normal state while typing: shown only once too many are typed.
  const quiet = reading.error.code === 'COMPONENT_LENGTH_INVALID' && digits < expected;
  return {
    type: 'typed',
    digits,
    checksum: reading.checksum,
    problem: quiet ? null : { code: reading.error.code, message: reading.error.message },
  };
}

/**
 * The typed text regrouped by four (separators dropped, hex upper-cased), for the field to show
 * as a sheet prints it. Text with anything but hex and separators is left as typed, so the
 * refusal's position still points at the character.
 */
export function regroup(text: string): string {
  if (!/^[0-9a-fA-F\s-]*$/.test(text)) return text;
  const hex = text.replace(/[\s-]/g, '').toUpperCase();
  return (hex.match(/.{1,4}/g) ?? []).join(' ');
}
