import { describe, expect, it } from 'vitest';
import {
  componentChecksum,
  componentGroups,
  groupComponent,
  parseComponent,
  readComponent,
} from '../../../shared/formats/component-entry.std';
import {
  COMPONENT_KEY_BYTES,
  ComponentKeyTypeSchema,
  formKey,
  isTdes,
  type ComponentKeyType,
} from '../../../shared/formats/components.std';
import { redactString } from '../../../shared/redact.std';
import { expectNoSecretIn, hexOf, oddParity, seeded, thrown } from './components-fixtures';

const TYPES = ComponentKeyTypeSchema.options;
const TDES2 = '0123456789ABCDEFFEDCBA9876543210';

function component(type: ComponentKeyType, seed: number): Uint8Array {
  const c = seeded(seed)(COMPONENT_KEY_BYTES[type]);
  return isTdes(type) ? oddParity(c) : c;
}

const HEX = '0123456789abcdef';

/** The component's hex digits with one changed: every position, every other digit. */
function* singleChanges(hex: string): Generator<string> {
  for (let i = 0; i < hex.length; i++) {
    for (const d of HEX) if (d !== hex[i]) yield hex.slice(0, i) + d + hex.slice(i + 1);
  }
}

/** Every swap of two different digits, adjacent or not. */
function* transpositions(hex: string): Generator<string> {
  for (let i = 0; i < hex.length; i++) {
    for (let j = i + 1; j < hex.length; j++) {
      if (hex[i] === hex[j]) continue;
      yield hex.slice(0, i) + hex[j]! + hex.slice(i + 1, j) + hex[i]! + hex.slice(j + 1);
    }
  }
}

const checksumOf = (hex: string) => componentChecksum(Uint8Array.from(Buffer.from(hex, 'hex')));

describe('reading what a custodian typed', () => {
  it('takes either case, and spaces, tabs or dashes between groups', () => {
    for (const typed of [
      TDES2,
      TDES2.toLowerCase(),
      '0123 4567 89AB CDEF FEDC BA98 7654 3210',
      '0123-4567-89ab-cdef-fedc-ba98-7654-3210',
      '  0123\t4567  89Ab cdEF - FEDC BA98 7654 3210 ',
    ]) {
      expect(hexOf(parseComponent(typed, 'tdes-2key')).toUpperCase()).toBe(TDES2);
    }
  });

  it('reads every key type at its own length', () => {
    for (const type of TYPES) {
      const c = component(type, 3);
      const reading = readComponent(groupComponent(c), type);
      expect(reading.ok && hexOf(reading.bytes)).toBe(hexOf(c));
    }
  });

  it.each([
    ['O123 4567 89AB CDEF FEDC BA98 7654 3210', 1, 1],
    ['0123 4567 89AB CDEF FEDC BA98 7654 321G', 39, 1],
    ['0x0123456789ABCDEFFEDCBA9876543210', 2, 1],
    ['0123:4567:89AB:CDEF:FEDC:BA98:7654:3210', 5, 7],
    ['0123 4567 89AB CDEF FEDC BA98 7654 32１0', 38, 1],
  ])('refuses non-hex %j with COMPONENT_FORMAT_INVALID at position %i', (typed, position, count) => {
    const reading = readComponent(typed, 'tdes-2key', 2);
    expect(reading.ok).toBe(false);
    if (reading.ok) return;
    expect(reading.checksum).toBeNull();
    expect(reading.error.code).toBe('COMPONENT_FORMAT_INVALID');
    expect(reading.error.details).toEqual({ componentIndex: 2, position, count });
    expect(redactString(reading.error.message)).toBe(reading.error.message);
    expectNoSecretIn(reading.error, typed);
  });

  it.each([
    ['', 0],
    ['0123 4567 89AB CDEF FEDC BA98 7654 321', 31],
    ['0123 4567 89AB CDEF FEDC BA98 7654 3210 0', 33],
    ['0123 4567 89AB CDEF', 16],
  ])('refuses %j with COMPONENT_LENGTH_INVALID (%i digits)', (typed, digits) => {
    const error = thrown(() => parseComponent(typed, 'tdes-2key'));
    expect(error.code).toBe('COMPONENT_LENGTH_INVALID');
    expect(error.details).toEqual({ expectedDigits: 32, actualDigits: digits });
    expect(error.message).toBe(`The component has ${digits} hex digits; a TDES (2-key) component has 32.`);
    expectNoSecretIn(error, typed);
  });

  it('names the bytes of a TDES component of wrong parity, and still shows the checksum to compare', () => {
    // The 4th digit typed as 2 instead of 3: byte 2 (0x23 -> 0x22) has even parity.
    const typed = '0122 4567 89AB CDEF FEDC BA98 7654 3210';
    const reading = readComponent(typed, 'tdes-2key', 1);
    expect(reading.ok).toBe(false);
    if (reading.ok) return;
    expect(reading.error.code).toBe('COMPONENT_PARITY_INVALID');
    expect(reading.error.details).toEqual({ componentIndex: 1, parity: 'even', positions: ['2'] });
    expect(reading.error.message).toContain('byte 2 (digits 3 and 4)');
    expect(reading.checksum).toBe(checksumOf(typed.replace(/ /g, '')));
    expect(reading.checksum).not.toBe(checksumOf(TDES2));
    expectNoSecretIn(reading.error, typed);
  });

  it('refuses an all-zero component as typed', () => {
    const error = thrown(() => parseComponent('0000 '.repeat(8), 'aes-128'));
    expect(error.code).toBe('COMPONENT_ZERO');
  });
});

describe('showing a component', () => {
  it('groups it by four upper-case hex digits', () => {
    const c = Uint8Array.from(Buffer.from(TDES2, 'hex'));
    expect(groupComponent(c)).toBe('0123 4567 89AB CDEF FEDC BA98 7654 3210');
    expect(componentGroups(c)).toHaveLength(8);
    expect(componentGroups(component('aes-256', 4))).toHaveLength(16);
    expect(componentGroups(component('aes-192', 4)).every((g) => /^[0-9A-F]{4}$/.test(g))).toBe(true);
  });
});

describe('the typo checksum', () => {
  it('is two upper-case hex characters, the same however the component was typed', () => {
    const reading = readComponent('0123-4567-89ab-CDEF fedc ba98 7654 3210', 'tdes-2key');
    expect(reading.ok && reading.checksum).toBe(checksumOf(TDES2.toLowerCase()));
    expect(reading.ok && reading.checksum).toMatch(/^[0-9A-F]{2}$/);
  });

  it.each(TYPES)('catches every single-character change in a %s component', (type) => {
    for (const seed of [1, 2, 3]) {
      const hex = hexOf(component(type, seed));
      const expected = checksumOf(hex);
      const typos = [...singleChanges(hex)];
      expect(typos).toHaveLength(hex.length * 15);
      expect(typos.filter((typo) => checksumOf(typo) === expected)).toEqual([]);
    }
  });

  it.each(TYPES)('catches every transposition of two different digits in a %s component', (type) => {
    const hex = hexOf(component(type, 9));
    const expected = checksumOf(hex);
    const typos = [...transpositions(hex)];
    expect(typos.length).toBeGreaterThan(hex.length);
    expect(typos.filter((typo) => checksumOf(typo) === expected)).toEqual([]);
  });

  it('does not combine over XOR: the components’ checksums do not give the key’s', () => {
    let linear = 0;
    for (let seed = 1; seed <= 50; seed++) {
      const [a, b] = [component('aes-128', seed), component('aes-128', seed + 1000)];
      const key = formKey('aes-128', [a, b]);
      const xored = (parseInt(componentChecksum(a), 16) ^ parseInt(componentChecksum(b), 16)).toString(16);
      if (xored.toUpperCase().padStart(2, '0') === componentChecksum(key)) linear++;
    }
    // A CRC would match all 50; a sum mod 251 about once in 251.
    expect(linear).toBeLessThan(5);
  });
});
