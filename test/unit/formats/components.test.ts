import { describe, expect, it } from 'vitest';
import {
  checkComponent,
  checkFormedKey,
  COMPONENT_KEY_BYTES,
  ComponentKeyTypeSchema,
  formKey,
  isTdes,
  wipe,
  xorComponents,
  type ComponentKeyType,
} from '../../../shared/formats/components.std';
import {
  evenParityBytes,
  isWeakDesKey,
  setOddParity,
  tdesWeakness,
} from '../../../shared/formats/des-keys.std';
import { redactString } from '../../../shared/redact.std';
import { bytesOf, expectNoSecretIn, hexOf, oddParity, seeded, thrown } from './components-fixtures';

const TYPES = ComponentKeyTypeSchema.options;

/** Random components of a type; TDES ones with odd parity, as a custodian's sheet holds them. */
function components(type: ComponentKeyType, count: number, seed: number): Uint8Array[] {
  const random = seeded(seed);
  return Array.from({ length: count }, () => {
    const c = random(COMPONENT_KEY_BYTES[type]);
    return isTdes(type) ? oddParity(c) : c;
  });
}

function naiveXor(parts: Uint8Array[]): Uint8Array {
  return parts.reduce((acc, p) => acc.map((b, i) => b ^ p[i]!));
}

/** The last component that makes `parts` XOR to `target`. */
function completing(target: Uint8Array, parts: Uint8Array[]): Uint8Array {
  return naiveXor([target, ...parts]);
}

describe('key types', () => {
  it('names the lengths of each key type in bytes', () => {
    expect(COMPONENT_KEY_BYTES).toEqual({
      'aes-128': 16,
      'aes-192': 24,
      'aes-256': 32,
      'tdes-2key': 16,
      'tdes-3key': 24,
    });
    expect(TYPES.filter(isTdes)).toEqual(['tdes-2key', 'tdes-3key']);
  });
});

describe('XOR of 2 to 9 components', () => {
  it.each([2, 3, 4, 5, 6, 7, 8, 9])('XORs %i components byte by byte', (count) => {
    for (const type of TYPES) {
      const parts = components(type, count, 100 + count);
      expect(hexOf(xorComponents(parts))).toBe(hexOf(naiveXor(parts)));
    }
  });

  it.each([2, 3, 9])('forms back the AES key that was split into %i components', (count) => {
    for (const type of ['aes-128', 'aes-192', 'aes-256'] as const) {
      const random = seeded(7 * count);
      const key = random(COMPONENT_KEY_BYTES[type]);
      const parts = Array.from({ length: count - 1 }, () => random(key.length));
      parts.push(completing(key, parts));
      expect(hexOf(formKey(type, parts))).toBe(hexOf(key));
    }
  });

  it.each([0, 1, 10, 12])('refuses %i components', (count) => {
    const parts = components('aes-128', count, 5);
    for (const form of [() => xorComponents(parts), () => formKey('aes-128', parts)]) {
      const error = thrown(form);
      expect(error.code).toBe('COMPONENT_COUNT_INVALID');
      expect(error.details).toEqual({ count });
    }
  });

  it('refuses components of different lengths, and components of another type’s length', () => {
    const error = thrown(() => xorComponents([new Uint8Array(16).fill(1), new Uint8Array(24).fill(2)]));
    expect(error.code).toBe('COMPONENT_LENGTH_INVALID');
    expect(error.details).toMatchObject({ componentIndex: 2, expectedDigits: 32, actualDigits: 48 });
    const wrongType = thrown(() => formKey('aes-256', components('aes-128', 2, 9)));
    expect(wrongType.code).toBe('COMPONENT_LENGTH_INVALID');
    expect(wrongType.details).toMatchObject({ componentIndex: 1, expectedDigits: 64, actualDigits: 32 });
  });

  it('refuses an all-zero component and two equal ones: either leaves the key to fewer custodians', () => {
    const [a, b] = components('aes-128', 2, 11);
    const zero = thrown(() => formKey('aes-128', [a!, new Uint8Array(16), b!]));
    expect(zero.code).toBe('COMPONENT_ZERO');
    expect(zero.details).toEqual({ componentIndex: 2 });
    const repeated = thrown(() => formKey('aes-128', [a!, b!, Uint8Array.from(a!)]));
    expect(repeated.code).toBe('COMPONENT_REPEATED');
    expect(repeated.details).toEqual({ componentIndex: 3, sameAs: 1 });
    // A TDES component of all parity bits is zero in its key bits.
    const tdesZero = thrown(() => formKey('tdes-2key', [new Uint8Array(16).fill(0x01), b!]));
    expect(tdesZero.code).toBe('COMPONENT_ZERO');
  });
});

describe('TDES parity', () => {
  it('names the bytes of even parity, by position, 1-based', () => {
    const [c] = components('tdes-3key', 1, 21);
    expect(evenParityBytes(c!)).toEqual([]);
    c![2]! ^= 0x01;
    c![6]! ^= 0x80;
    c![23]! ^= 0x10;
    expect(evenParityBytes(c!)).toEqual([3, 7, 24]);
  });

  it('refuses a component of wrong parity, naming its bytes and the digits they are typed as', () => {
    const parts = components('tdes-2key', 3, 22);
    parts[1]![2]! ^= 0x01;
    parts[1]![6]! ^= 0x01;
    const error = thrown(() => formKey('tdes-2key', parts));
    expect(error.code).toBe('COMPONENT_PARITY_INVALID');
    expect(error.details).toEqual({ componentIndex: 2, parity: 'even', positions: ['3', '7'] });
    expect(error.message).toBe(
      'Component 2 has even parity in byte 3 (digits 5 and 6) and byte 7 (digits 13 and 14): every byte of a TDES component has odd parity, so a digit there was probably mistyped. Check it against the component sheet.',
    );
    expect(redactString(error.message)).toBe(error.message);
    expectNoSecretIn(error, hexOf(parts[1]!));
    expect(thrown(() => checkComponent('tdes-3key', new Uint8Array(24).fill(0x03))).details).toMatchObject({
      positions: Array.from({ length: 24 }, (_, i) => String(i + 1)),
    });
  });

  it('does not ask AES components for parity', () => {
    const parts = components('aes-128', 2, 23);
    parts[0]![0] = 0x03;
    expect(() => formKey('aes-128', parts)).not.toThrow();
  });

  it('sets odd parity on a formed TDES key, changing only parity bits', () => {
    for (const count of [2, 3, 4]) {
      for (const type of ['tdes-2key', 'tdes-3key'] as const) {
        const parts = components(type, count, 30 + count);
        const plain = naiveXor(parts);
        const key = formKey(type, parts);
        expect(evenParityBytes(key)).toEqual([]);
        expect(key.map((b, i) => (b ^ plain[i]!) & 0xfe).every((d) => d === 0)).toBe(true);
        // An even number of odd-parity components XORs to even parity: the setting did the work.
        if (count % 2 === 0) expect(evenParityBytes(plain)).toHaveLength(plain.length);
      }
    }
  });

  it('setOddParity works in place on every byte value', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(setOddParity(all)).toBe(all);
    expect(evenParityBytes(all)).toEqual([]);
    for (let i = 0; i < 256; i++) expect(all[i]! & 0xfe).toBe(i & 0xfe);
  });
});

describe('degenerate formed keys', () => {
  const k1 = bytesOf('0123456789abcdef');
  const k2 = bytesOf('fedcba9876543210');
  const k3 = bytesOf('89abcdef01234567');
  const join = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
  /** The first component random, the second what makes them form `key`. */
  const splitInTwo = (type: ComponentKeyType, key: Uint8Array, seed: number) => {
    const [a] = components(type, 1, seed);
    const b = completing(key, [a!]);
    return [a!, isTdes(type) ? setOddParity(b) : b];
  };

  it.each([
    ['tdes-2key', join(k1, k1)],
    [
      'tdes-2key',
      join(
        k1,
        k1.map((b) => b ^ 0x01),
      ),
    ],
    ['tdes-3key', join(k1, k1, k2)],
    ['tdes-3key', join(k1, k2, k2)],
    ['tdes-3key', join(k1, k1, k1)],
  ] as const)('refuses %s %# that is only single DES (parity bits ignored)', (type, key) => {
    const error = thrown(() => formKey(type, splitInTwo(type, key, 40)));
    expect(error.code).toBe('KEY_DEGENERATE');
    expect(error.details).toEqual({ reason: 'single-des' });
    expectNoSecretIn(error, hexOf(key));
  });

  it('accepts a 3-key TDES key with K1 = K3 (2-key strength, still two DES keys)', () => {
    expect(tdesWeakness(join(k1, k2, k1))).toBeNull();
    expect(tdesWeakness(join(k1, k2, k3))).toBeNull();
    expect(hexOf(formKey('tdes-3key', splitInTwo('tdes-3key', join(k1, k2, k1), 41)))).toBe(
      hexOf(join(k1, k2, k1)),
    );
  });

  // Listed again from FIPS 74, not imported: this checks the table in des-keys.std.ts.
  it.each([
    '0101010101010101',
    'fefefefefefefefe',
    'e0e0e0e0f1f1f1f1',
    '1f1f1f1f0e0e0e0e',
    '011f011f010e010e',
    '1f011f010e010e01',
    '01e001e001f101f1',
    'e001e001f101f101',
    '01fe01fe01fe01fe',
    'fe01fe01fe01fe01',
    '1fe01fe00ef10ef1',
    'e01fe01ff10ef10e',
    '1ffe1ffe0efe0efe',
    'fe1ffe1ffe0efe0e',
    'e0fee0fef1fef1fe',
    'fee0fee0fef1fef1',
  ])('refuses a TDES key holding the weak or semi-weak DES key %s, in any place', (weakHex) => {
    const weak = bytesOf(weakHex);
    expect(isWeakDesKey(weak)).toBe(true);
    expect(isWeakDesKey(weak.map((b) => b ^ 0x01))).toBe(true);
    for (const key of [join(weak, k2), join(k1, weak), join(weak, k2, k3), join(k1, k2, weak)]) {
      const type = key.length === 16 ? 'tdes-2key' : 'tdes-3key';
      const error = thrown(() => checkFormedKey(type, key));
      expect(error.code).toBe('KEY_DEGENERATE');
      expect(error.details).toEqual({ reason: 'weak-des' });
    }
  });

  it('refuses an all-zero formed key (TDES: zero in its key bits)', () => {
    for (const type of TYPES) {
      const error = thrown(() => checkFormedKey(type, new Uint8Array(COMPONENT_KEY_BYTES[type])));
      expect(error.code, type).toBe('KEY_DEGENERATE');
      expect(error.details).toEqual({ reason: 'zero' });
    }
    expect(thrown(() => checkFormedKey('tdes-2key', new Uint8Array(16).fill(0x01))).details).toEqual({
      reason: 'zero',
    });
    // Two different AES components can still form zeros only if equal: that is refused earlier.
    const [a] = components('aes-128', 1, 50);
    expect(thrown(() => formKey('aes-128', [a!, Uint8Array.from(a!)])).code).toBe('COMPONENT_REPEATED');
  });

  it('refuses a key of the wrong length for its type', () => {
    const error = thrown(() => checkFormedKey('aes-256', new Uint8Array(16).fill(1)));
    expect(error.code).toBe('KEY_LENGTH_INVALID');
    expect(error.details).toEqual({ expectedBytes: 32, actualBytes: 16 });
  });
});

describe('wipe', () => {
  it('zero-fills every array it is given, in place', () => {
    const a = Uint8Array.from([1, 2, 3]);
    const b = new Uint8Array(32).fill(0xaa);
    const view = b.subarray(8, 16);
    wipe(a, view);
    expect([...a]).toEqual([0, 0, 0]);
    expect(b.every((x, i) => (i >= 8 && i < 16 ? x === 0 : x === 0xaa))).toBe(true);
    wipe(b);
    expect(b.every((x) => x === 0)).toBe(true);
  });
});
