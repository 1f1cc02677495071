import { describe, expect, it, vi } from 'vitest';
import {
  ATTRIBUTE_BYTES,
  createAttributeReader,
  lazyAttributeReader,
  MAX_ATTRIBUTES,
  SLOT_BYTES,
  unsupportedAbi,
  type NativeBoundary,
} from '../../../electron/hsm/pkcs11/attribute-reader.host';
import { extractCkr, toMkmError } from '../../../electron/hsm/pkcs11/ckr.std';
import { pkcs11js as P } from '../../../electron/hsm/pkcs11/pkcs11.host';

/**
 * The CK_ATTRIBUTE layout the one-call reader writes (LP64: type, pValue, ulValueLen, 8 bytes
 * each) and what it makes of a module's answer, against a fake module that reads and writes that
 * layout in the reader's own memory the way PKCS#11 2.40 §5.7 says a module does.
 */
const UNAVAILABLE = 0xffffffffffffffffn;
const BASE = 0x10000n;

interface FakeObject {
  [type: number]: Buffer | 'sensitive';
}

function fake(objects: Map<bigint, FakeObject>, rvOverride?: number) {
  const blocks = new Map<bigint, Uint8Array>();
  let next = BASE;
  const calls: { session: bigint; object: bigint; count: number; lengths: bigint[] }[] = [];
  const locate = (address: bigint): [Uint8Array, number] => {
    for (const [start, block] of blocks) {
      if (address >= start && address < start + BigInt(block.length)) return [block, Number(address - start)];
    }
    throw new Error(`wild pointer 0x${address.toString(16)}`);
  };
  const boundary: NativeBoundary = {
    alloc(bytes) {
      const address = next;
      next += BigInt(bytes) + 0x1000n;
      const memory = new Uint8Array(bytes);
      blocks.set(address, memory);
      return { address, memory };
    },
    free: (address) => void blocks.delete(address),
    unload: () => undefined,
    call(session, object, template, count) {
      const [memory, at] = locate(template);
      const view = new DataView(memory.buffer, memory.byteOffset + at, count * ATTRIBUTE_BYTES);
      const lengths: bigint[] = [];
      if (rvOverride !== undefined) {
        calls.push({ session, object, count, lengths });
        return rvOverride;
      }
      const o = objects.get(object)!;
      let rv = 0;
      for (let i = 0; i < count; i++) {
        const type = Number(view.getBigUint64(i * 24, true));
        const pValue = view.getBigUint64(i * 24 + 8, true);
        const length = view.getBigUint64(i * 24 + 16, true);
        lengths.push(length);
        const value = o[type];
        const fail = (code: number) => {
          view.setBigUint64(i * 24 + 16, UNAVAILABLE, true);
          rv ||= code;
        };
        if (value === undefined) fail(0x12);
        else if (value === 'sensitive') fail(0x11);
        else if (pValue === 0n) view.setBigUint64(i * 24 + 16, BigInt(value.length), true);
        else if (length < BigInt(value.length)) fail(0x150);
        else {
          const [target, offset] = locate(pValue);
          target.set(value, offset);
          view.setBigUint64(i * 24 + 16, BigInt(value.length), true);
        }
      }
      calls.push({ session, object, count, lengths });
      return rv;
    },
  };
  return { boundary, calls, blocks };
}

const handle = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
const ulong = (n: number) => handle(n);

describe('one-call attribute reader', () => {
  const long = Buffer.alloc(SLOT_BYTES + 44, 0x61);
  const objects = new Map<bigint, FakeObject>([
    [
      7n,
      {
        [P.CKA_CLASS]: ulong(P.CKO_SECRET_KEY),
        [P.CKA_LABEL]: Buffer.from('key'),
        [P.CKA_ID]: Buffer.from('0102', 'hex'),
        [P.CKA_TOKEN]: Buffer.from([1]),
        [P.CKA_SUBJECT]: Buffer.alloc(0),
        [P.CKA_MODULUS]: 'sensitive',
      },
    ],
    [9n, { [P.CKA_CLASS]: ulong(P.CKO_DATA), [P.CKA_LABEL]: long }],
  ]);

  it('reads every attribute in one call with LP64 CK_ATTRIBUTEs pointing into its slots', () => {
    const { boundary, calls } = fake(objects);
    const reader = createAttributeReader(boundary);
    const read = reader.read(handle(3), handle(7), [
      P.CKA_CLASS,
      P.CKA_LABEL,
      P.CKA_ID,
      P.CKA_TOKEN,
      P.CKA_SUBJECT,
    ]);
    expect(calls).toEqual([
      { session: 3n, object: 7n, count: 5, lengths: [8n, 256n, 256n, 256n, 256n].map(BigInt) },
    ]);
    expect(read.missing).toEqual([]);
    expect([...read.values]).toEqual([
      [P.CKA_CLASS, ulong(P.CKO_SECRET_KEY)],
      [P.CKA_LABEL, Buffer.from('key')],
      [P.CKA_ID, Buffer.from('0102', 'hex')],
      [P.CKA_TOKEN, Buffer.from([1])],
      // A zero-length value is an empty Buffer, as pkcs11js gives it, not undefined.
      [P.CKA_SUBJECT, Buffer.alloc(0)],
    ]);
  });

  it('keeps the values §5.7 says survive a refused attribute, and names the refused ones', () => {
    const { boundary, calls } = fake(objects);
    const reader = createAttributeReader(boundary);
    const read = reader.read(handle(3), handle(7), [P.CKA_LABEL, P.CKA_MODULUS, P.CKA_KEY_TYPE, P.CKA_ID]);
    expect(calls).toHaveLength(1);
    expect(read.missing).toEqual([P.CKA_MODULUS, P.CKA_KEY_TYPE]);
    expect(read.values.get(P.CKA_LABEL)).toEqual(Buffer.from('key'));
    expect(read.values.get(P.CKA_ID)).toEqual(Buffer.from('0102', 'hex'));
    expect(read.values.has(P.CKA_MODULUS) && read.values.get(P.CKA_MODULUS)).toBe(undefined);
    expect(() => reader.readOne(handle(3), handle(7), P.CKA_MODULUS)).toThrow('CKR_ATTRIBUTE_SENSITIVE');
  });

  it('reads a value longer than a slot again at its exact size, and frees that memory', () => {
    const { boundary, calls, blocks } = fake(objects);
    const reader = createAttributeReader(boundary);
    const read = reader.read(handle(3), handle(9), [P.CKA_CLASS, P.CKA_LABEL]);
    expect(read.missing).toEqual([P.CKA_LABEL]);
    expect(read.values.get(P.CKA_CLASS)).toEqual(ulong(P.CKO_DATA));
    expect(reader.readOne(handle(3), handle(9), P.CKA_LABEL)).toEqual(long);
    expect(calls.map((c) => c.lengths)).toEqual([[8n, 256n], [0n], [BigInt(long.length)]]);
    expect(blocks.size).toBe(1);
  });

  it('fails any other answer as pkcs11js does, with the same CKR', () => {
    const { boundary } = fake(objects, 0xb3);
    const reader = createAttributeReader(boundary);
    let thrown: unknown;
    try {
      reader.read(handle(3), handle(7), [P.CKA_LABEL]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(P.Pkcs11Error);
    expect(extractCkr(thrown)).toEqual({ name: 'CKR_SESSION_HANDLE_INVALID', value: 0xb3 });
    expect(toMkmError(thrown).details).toMatchObject({ fn: 'C_GetAttributeValue', ckrValue: 0xb3 });
  });

  it('refuses key material before it calls the module, and wipes and frees its memory', () => {
    const { boundary, calls, blocks } = fake(objects);
    const reader = createAttributeReader(boundary);
    for (const type of [P.CKA_VALUE, P.CKA_PRIVATE_EXPONENT, P.CKA_PRIME_1, P.CKA_COEFFICIENT]) {
      expect(() => reader.read(handle(3), handle(7), [P.CKA_LABEL, type])).toThrow(/secret/);
      expect(() => reader.readOne(handle(3), handle(7), type)).toThrow(/secret/);
    }
    expect(calls).toHaveLength(0);
    const [memory] = [...blocks.values()];
    reader.read(handle(3), handle(7), [P.CKA_LABEL]);
    expect(memory!.some((b) => b !== 0)).toBe(true);
    reader.wipe();
    expect(memory!.every((b) => b === 0)).toBe(true);
    expect(() =>
      reader.read(handle(3), handle(7), new Array<number>(MAX_ATTRIBUTES + 1).fill(P.CKA_LABEL)),
    ).toThrow(RangeError);
    reader.close();
    expect(blocks.size).toBe(0);
  });

  it('is used only where the CK_ATTRIBUTE layout is known', () => {
    expect(unsupportedAbi('linux', 'x64')).toBeNull();
    expect(unsupportedAbi('darwin', 'arm64')).toBeNull();
    expect(unsupportedAbi('win32', 'x64')).toMatch(/win32/);
    expect(unsupportedAbi('linux', 'ia32')).toMatch(/ia32/);
  });
});

describe("a loaded module's reader", () => {
  it('is made on the first listing only, once, and says which reads it chose', async () => {
    const made = vi.fn();
    const lazy = lazyAttributeReader('/no/module/loaded.so', 'pkcs11js', made);
    expect(made).not.toHaveBeenCalled();
    expect(await lazy.get()).toBeNull();
    expect(await lazy.get()).toBeNull();
    expect(made).toHaveBeenCalledTimes(1);
    expect(made).toHaveBeenCalledWith({ reader: null, why: 'pkcs11js reads chosen' });
    lazy.close();
  });
});
