import { MkmError } from '../errors.std';
import {
  checkComponent,
  COMPONENT_KEY_BYTES,
  componentDetail,
  componentKeyTypeName,
  componentName,
  type ComponentKeyType,
  wipe,
} from './components.std';

/**
 * A key component as a custodian types it and reads it back (issue 11 point 3): hex digits in
 * either case, spaces or dashes between groups, shown in groups of four, and a short checksum to
 * compare with the component sheet. Every refusal has a stable code and names a position or a
 * count, never a typed character: the field holds a secret even when it is wrong.
 */

const SEPARATOR = /[\s-]/;

function nibble(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  return -1;
}

/**
 * The typo checksum: two hex characters a custodian compares with the one printed on their
 * component sheet before confirming the component's KCV.
 *
 * It is S = sum of (i + 1) * d_i mod 251 over the component's hex digits d_0..d_63, in order.
 * 251 is prime and larger than both every weight (at most 64 digits) and every digit difference
 * (at most 15), so:
 *  - changing one digit changes S by (i + 1) * (d' - d), a product of two numbers that are not
 *    multiples of 251: never 0, so every single-character typo is caught;
 *  - swapping two different digits (adjacent or not) changes S by (j - i) * (d_i - d_j): never 0,
 *    so every transposition is caught. Other errors slip through about once in 251, and the
 *    component's KCV, confirmed next, catches those.
 * It leaks little: under 8 bits about a component of 128 to 256 bits, to someone who sees the
 * screen or the sheet. It is an integer sum, not a CRC or an XOR-weighted sum on purpose: those
 * are linear over XOR, so the checksums of all the components of a key would combine into the
 * checksum of the key itself; this one does not. It is shown only for a complete component: a
 * checksum recomputed at each keystroke would spell the digits out one by one to anyone watching.
 * It is a function of a secret: never log it, store it or send it anywhere but the custodian's
 * own screen and sheet.
 */
export function componentChecksum(component: Uint8Array): string {
  let sum = 0;
  for (let i = 0; i < component.length; i++) {
    const b = component[i]!;
    sum = (sum + (2 * i + 1) * (b >> 4) + (2 * i + 2) * (b & 0x0f)) % 251;
  }
  return sum.toString(16).toUpperCase().padStart(2, '0');
}

/** The component as four-digit groups of upper-case hex, as sheets print it. */
export function componentGroups(component: Uint8Array): string[] {
  const groups: string[] = [];
  for (let i = 0; i < component.length; i += 2) {
    let group = '';
    for (const b of component.subarray(i, i + 2)) group += b.toString(16).toUpperCase().padStart(2, '0');
    groups.push(group);
  }
  return groups;
}

/** `componentGroups` on one line: "0123 4567 89AB ...". */
export function groupComponent(component: Uint8Array): string {
  return componentGroups(component).join(' ');
}

export type ComponentReading =
  | { ok: true; bytes: Uint8Array; checksum: string }
  /** `checksum` is there once the digits are complete (a parity or zero refusal), else null. */
  | { ok: false; error: MkmError; checksum: string | null };

/**
 * Reads what a custodian typed for one component of a key of this type. The bytes returned are
 * the caller's to wipe. `componentIndex` (1-based) only names the component in messages.
 */
export function readComponent(
  text: string,
  type: ComponentKeyType,
  componentIndex?: number,
): ComponentReading {
  const which = componentName(componentIndex);
  const at = componentDetail(componentIndex);
  let digits = 0;
  let firstBad = -1;
  let bad = 0;
  // Two passes over the text, so no intermediate string or array holds the digits.
  for (let i = 0; i < text.length; i++) {
    if (nibble(text.charCodeAt(i)) >= 0) digits++;
    else if (!SEPARATOR.test(text[i]!)) {
      bad++;
      if (firstBad < 0) firstBad = i;
    }
  }
  if (bad > 0) {
    const error = new MkmError(
      'COMPONENT_FORMAT_INVALID',
      `${which} has ${bad === 1 ? 'a character' : `${bad} characters`} that ${bad === 1 ? 'is' : 'are'} not a hex digit, the first at position ${firstBad + 1}. Use only 0-9 and A-F, with spaces or dashes between groups.`,
      { ...at, position: firstBad + 1, count: bad },
    );
    return { ok: false, error, checksum: null };
  }
  const expected = COMPONENT_KEY_BYTES[type] * 2;
  if (digits !== expected) {
    const error = new MkmError(
      'COMPONENT_LENGTH_INVALID',
      `${which} has ${digits} hex digits; a ${componentKeyTypeName(type)} component has ${expected}.`,
      { ...at, expectedDigits: expected, actualDigits: digits },
    );
    return { ok: false, error, checksum: null };
  }
  const bytes = new Uint8Array(expected / 2);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const v = nibble(text.charCodeAt(i));
    if (v < 0) continue;
    bytes[n >> 1] = bytes[n >> 1]! | (n % 2 === 0 ? v << 4 : v);
    n++;
  }
  const checksum = componentChecksum(bytes);
  try {
    checkComponent(type, bytes, componentIndex);
  } catch (error) {
    wipe(bytes);
    if (error instanceof MkmError) return { ok: false, error, checksum };
    throw error;
  }
  return { ok: true, bytes, checksum };
}

/** `readComponent` that throws its refusal. */
export function parseComponent(text: string, type: ComponentKeyType, componentIndex?: number): Uint8Array {
  const reading = readComponent(text, type, componentIndex);
  if (!reading.ok) throw reading.error;
  return reading.bytes;
}
