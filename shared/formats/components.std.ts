import { z } from 'zod';
import { MkmError } from '../errors.std';
import { evenParityBytes, keyBitsZero, sameKeyBits, setOddParity, tdesWeakness } from './des-keys.std';

/**
 * Keys formed from clear components and split into them, in an offline ceremony (issue 11
 * point 3): the key types, the XOR of 2 to 9 components, and the checks a formed key passes.
 * What a custodian types is read in ./component-entry.std.ts; DES parity and weak keys are in
 * ./des-keys.std.ts. Components are secrets: nothing here copies one more than it must, every
 * refusal names positions and counts, never a digit, and `wipe` zero-fills what is done with.
 */

export const ComponentKeyTypeSchema = z.enum(['aes-128', 'aes-192', 'aes-256', 'tdes-2key', 'tdes-3key']);
export type ComponentKeyType = z.infer<typeof ComponentKeyTypeSchema>;

/** Length in bytes of a key, and so of each of its components. */
export const COMPONENT_KEY_BYTES: Readonly<Record<ComponentKeyType, number>> = {
  'aes-128': 16,
  'aes-192': 24,
  'aes-256': 32,
  'tdes-2key': 16,
  'tdes-3key': 24,
};

const TYPE_NAMES: Readonly<Record<ComponentKeyType, string>> = {
  'aes-128': 'AES-128',
  'aes-192': 'AES-192',
  'aes-256': 'AES-256',
  'tdes-2key': 'TDES (2-key)',
  'tdes-3key': 'TDES (3-key)',
};

export const MIN_COMPONENTS = 2;
export const MAX_COMPONENTS = 9;

export function componentKeyTypeName(type: ComponentKeyType): string {
  return TYPE_NAMES[type];
}

export function isTdes(type: ComponentKeyType): boolean {
  return type === 'tdes-2key' || type === 'tdes-3key';
}

/** Zero-fills each array in place: a component or clear key is wiped as soon as it is used. */
export function wipe(...arrays: Uint8Array[]): void {
  for (const a of arrays) a.fill(0);
}

/** How messages name a component: by its 1-based index when known. */
export function componentName(componentIndex?: number): string {
  return componentIndex === undefined ? 'The component' : `Component ${componentIndex}`;
}

/** The `componentIndex` detail, when there is one. */
export function componentDetail(componentIndex?: number): Record<string, number> {
  return componentIndex === undefined ? {} : { componentIndex };
}

function ordinalList(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]!}`;
}

/**
 * COMPONENT_PARITY_INVALID naming the bytes of even parity, and the digits they are typed as
 * (byte n is digits 2n-1 and 2n), so a custodian can find the mistyped digit on the sheet.
 */
export function componentParityError(positions: readonly number[], componentIndex?: number): MkmError {
  const which = componentName(componentIndex);
  const named = ordinalList(positions.map((p) => `byte ${p} (digits ${2 * p - 1} and ${2 * p})`));
  return new MkmError(
    'COMPONENT_PARITY_INVALID',
    `${which} has even parity in ${named}: every byte of a TDES component has odd parity, so a digit there was probably mistyped. Check it against the component sheet.`,
    { ...componentDetail(componentIndex), parity: 'even', positions: positions.map(String) },
  );
}

/** Refuses a component of the wrong length, of wrong TDES parity, or of all zeros. */
export function checkComponent(type: ComponentKeyType, component: Uint8Array, componentIndex?: number): void {
  const expected = COMPONENT_KEY_BYTES[type];
  const at = componentDetail(componentIndex);
  if (component.length !== expected) {
    throw new MkmError(
      'COMPONENT_LENGTH_INVALID',
      `${componentName(componentIndex)} has ${component.length * 2} hex digits; a ${TYPE_NAMES[type]} component has ${expected * 2}.`,
      { ...at, expectedDigits: expected * 2, actualDigits: component.length * 2 },
    );
  }
  if (isTdes(type)) {
    const wrong = evenParityBytes(component);
    if (wrong.length > 0) throw componentParityError(wrong, componentIndex);
  }
  if (keyBitsZero(component)) throw new MkmError('COMPONENT_ZERO', undefined, at);
}

export function checkComponentCount(count: number): void {
  if (Number.isInteger(count) && count >= MIN_COMPONENTS && count <= MAX_COMPONENTS) return;
  throw new MkmError(
    'COMPONENT_COUNT_INVALID',
    `A key is formed from ${MIN_COMPONENTS} to ${MAX_COMPONENTS} components, not ${count}.`,
    { count },
  );
}

/**
 * The XOR of 2 to 9 components of one length, in a new array (the caller wipes it and the
 * components). Only count and length are checked here; `formKey` checks the rest.
 */
export function xorComponents(components: readonly Uint8Array[]): Uint8Array {
  checkComponentCount(components.length);
  const length = components[0]!.length;
  components.forEach((c, i) => {
    if (c.length !== length) {
      throw new MkmError('COMPONENT_LENGTH_INVALID', `Component ${i + 1} is not as long as component 1.`, {
        componentIndex: i + 1,
        expectedDigits: length * 2,
        actualDigits: c.length * 2,
      });
    }
  });
  const out = new Uint8Array(length);
  for (const c of components) for (let i = 0; i < length; i++) out[i] = out[i]! ^ c[i]!;
  return out;
}

/**
 * Refuses a formed key that is all zeros (parity ignored for TDES), a TDES key that is single
 * DES, or one holding a DES weak or semi-weak key. The caller wipes the key it refused.
 */
export function checkFormedKey(type: ComponentKeyType, key: Uint8Array): void {
  if (key.length !== COMPONENT_KEY_BYTES[type]) {
    throw new MkmError(
      'KEY_LENGTH_INVALID',
      `A ${TYPE_NAMES[type]} key has ${COMPONENT_KEY_BYTES[type]} bytes.`,
      {
        expectedBytes: COMPONENT_KEY_BYTES[type],
        actualBytes: key.length,
      },
    );
  }
  const tdes = isTdes(type);
  if (tdes ? keyBitsZero(key) : key.every((b) => b === 0)) {
    throw new MkmError(
      'KEY_DEGENERATE',
      'The key formed from these components is all zeros: the components cancel each other out. Enter them again, or split a new key.',
      { reason: 'zero' },
    );
  }
  if (!tdes) return;
  const weakness = tdesWeakness(key);
  if (weakness === 'single-des') {
    throw new MkmError(
      'KEY_DEGENERATE',
      'The TDES key formed from these components has two equal DES keys in a row (K1 = K2, or K2 = K3), so it is only single DES. It is refused.',
      { reason: weakness },
    );
  }
  if (weakness === 'weak-des') {
    throw new MkmError(
      'KEY_DEGENERATE',
      'The TDES key formed from these components holds a DES weak or semi-weak key. It is refused.',
      { reason: weakness },
    );
  }
}

/**
 * Forms a key from its clear components, as payShield's "form key from components" does:
 * each component is checked (length, TDES odd parity, not all zeros, not repeating another,
 * which would cancel it out), they are XORed, a TDES key is set to odd parity, and the result
 * is refused when degenerate (and then wiped). Returns a new array the caller must wipe; the
 * components are the caller's to wipe too.
 */
export function formKey(type: ComponentKeyType, components: readonly Uint8Array[]): Uint8Array {
  checkComponents(type, components);
  const tdes = isTdes(type);
  const key = xorComponents(components);
  if (tdes) setOddParity(key);
  try {
    checkFormedKey(type, key);
  } catch (error) {
    wipe(key);
    throw error;
  }
  return key;
}

/**
 * The checks `formKey` makes of the components before it XORs them (count, each component, none
 * repeating another); also run alone where the token XORs them (ceremony-ops.host.ts).
 */
export function checkComponents(type: ComponentKeyType, components: readonly Uint8Array[]): void {
  checkComponentCount(components.length);
  const tdes = isTdes(type);
  components.forEach((c, i) => {
    checkComponent(type, c, i + 1);
    for (let j = 0; j < i; j++) {
      if (sameKeyBits(components[j]!, c, tdes)) {
        throw new MkmError(
          'COMPONENT_REPEATED',
          `Component ${i + 1} is the same as component ${j + 1}: the two cancel each other out, so split knowledge would not hold.`,
          { componentIndex: i + 1, sameAs: j + 1 },
        );
      }
    }
  });
}
