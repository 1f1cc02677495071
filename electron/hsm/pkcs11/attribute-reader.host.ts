import type * as KoffiModule from 'koffi';
import { ckrName } from './ckr.std';
import { pkcs11js, type Handle } from './pkcs11.host';

/**
 * C_GetAttributeValue in ONE module call per object, for the object listing (issue 13.9).
 * pkcs11js always calls a module twice (lengths with pValue NULL, then values) and makes a Node
 * Buffer per attribute in native code; SoftHSM2 decrypts a private object's CKA_ID and CKA_LABEL
 * on each call, so the first call alone cost the listing a third of its token time. Here the
 * template and its value buffers sit in native memory allocated once (koffi), so a call needs no
 * size query: a value that does not fit comes back CK_UNAVAILABLE_INFORMATION and only that one
 * is read again, with its exact size.
 *
 * The module is the one pkcs11js already loaded and initialized: dlopen of the same path returns
 * the same library, and its C_GetFunctionList the same table pkcs11js calls through.
 */

/** An attribute's bytes, or undefined when the token says it has none to give (§5.7). */
export type AttrMap = Map<number, Buffer | undefined>;

export interface AttributeRead {
  values: AttrMap;
  /**
   * The attributes the token marked CK_UNAVAILABLE_INFORMATION: unknown to the object, sensitive,
   * or longer than a slot. `readOne` tells which.
   */
  missing: number[];
}

export interface AttributeReader {
  /** One C_GetAttributeValue for every attribute in `types`. */
  read(session: Handle, object: Handle, types: readonly number[]): AttributeRead;
  /**
   * One attribute at its exact size, two calls (size, value) as pkcs11js makes them, and throwing
   * what pkcs11js throws when the token refuses.
   */
  readOne(session: Handle, object: Handle, type: number): Buffer | undefined;
  /** Zero the value slots: they held labels and IDs of the last objects read. */
  wipe(): void;
  /** Free the native memory and drop this reference to the module (pkcs11js keeps its own). */
  close(): void;
}

const P = pkcs11js;

/**
 * Never read through here: the listing has no business with key material, and these values
 * would sit in the slots until the next wipe.
 */
const SECRET_ATTRIBUTES: ReadonlySet<number> = new Set([
  P.CKA_VALUE,
  P.CKA_PRIVATE_EXPONENT,
  P.CKA_PRIME_1,
  P.CKA_PRIME_2,
  P.CKA_EXPONENT_1,
  P.CKA_EXPONENT_2,
  P.CKA_COEFFICIENT,
]);

/**
 * CK_ULONG attributes get a buffer of exactly their size: NSS softokn answers a CK_ULONG
 * attribute asked with a larger buffer CK_UNAVAILABLE_INFORMATION, which cost two more calls each.
 */
const ULONG_ATTRIBUTES: ReadonlySet<number> = new Set([
  P.CKA_CLASS,
  P.CKA_KEY_TYPE,
  P.CKA_CERTIFICATE_TYPE,
  P.CKA_VALUE_LEN,
  P.CKA_MODULUS_BITS,
]);
const ULONG_BYTES = 8;

/** The listing's longest template has 19 attributes. */
export const MAX_ATTRIBUTES = 32;
/** Labels and IDs of real tokens fit; a longer value costs two more calls (size, then value). */
export const SLOT_BYTES = 256;
/** CK_ATTRIBUTE on LP64 with natural alignment: type, pValue, ulValueLen, 8 bytes each. */
export const ATTRIBUTE_BYTES = 24;

/** Index of C_GetAttributeValue among CK_FUNCTION_LIST's pointers (pkcs11f.h order, from 0). */
const GET_ATTRIBUTE_VALUE_INDEX = 24;
/** CK_FUNCTION_LIST starts with a CK_VERSION (2 bytes) padded to the pointers' alignment. */
const FUNCTION_LIST_HEADER = 8;

const CKR_OK = 0x00;
/** The three answers after which every other attribute still holds its value (§5.7). */
const PARTIAL = new Set([0x11 /* SENSITIVE */, 0x12 /* TYPE_INVALID */, 0x150 /* BUFFER_TOO_SMALL */]);

type GetAttributeValue = (
  session: bigint,
  object: bigint,
  template: bigint,
  count: number,
) => number | bigint;

/**
 * The boundary to the module, so the layout code can be tested without one: `call` is
 * C_GetAttributeValue on a template at `address`, `memory` is that template's bytes.
 */
export interface NativeBoundary {
  call: GetAttributeValue;
  alloc(bytes: number): { address: bigint; memory: Uint8Array };
  free(address: bigint): void;
  unload(): void;
}

/**
 * Why the fast reader cannot be used here, or null. The CK_ATTRIBUTE layout written below is
 * LP64's: Windows has a 4-byte CK_ULONG and packs PKCS#11 structures to 1 byte, and 32-bit or
 * other targets are untested, so they keep the pkcs11js reads.
 */
export function unsupportedAbi(
  platform: string = process.platform,
  arch: string = process.arch,
): string | null {
  if (platform !== 'linux' && platform !== 'darwin') return `CK_ATTRIBUTE layout unknown on ${platform}`;
  if (arch !== 'x64' && arch !== 'arm64') return `CK_ATTRIBUTE layout unknown on ${arch}`;
  return null;
}

type Koffi = typeof KoffiModule;

/**
 * koffi, loaded when a module is: imported statically, a missing or broken koffi binary would
 * stop the whole host from starting rather than only cost the listing its speed.
 */
export async function loadKoffi(): Promise<Koffi> {
  const loaded = (await import('koffi')) as Koffi & { default?: Koffi };
  return loaded.default ?? loaded;
}

/** koffi over the module pkcs11js loaded from `modulePath`. Throws when that cannot be done. */
export function koffiBoundary(koffi: Koffi, modulePath: string): NativeBoundary {
  if (koffi.sizeof('unsigned long') !== 8 || koffi.sizeof('void *') !== 8) {
    throw new Error('CK_ULONG is not 8 bytes here');
  }
  const lib = koffi.load(modulePath);
  try {
    const getFunctionList = lib.func('unsigned long C_GetFunctionList(_Out_ void **list)');
    const out: [bigint | null] = [null];
    const rv = getFunctionList(out) as number;
    if (rv !== CKR_OK || !out[0]) throw new Error(`C_GetFunctionList answered ${ckrName(rv)}`);
    const pointer = koffi.decode(out[0], FUNCTION_LIST_HEADER + GET_ATTRIBUTE_VALUE_INDEX * 8, 'void *') as
      bigint | null;
    if (!pointer) throw new Error('the module has no C_GetAttributeValue');
    const call = koffi.decode(pointer, getAttributeValueType(koffi)) as GetAttributeValue;
    return {
      call,
      alloc(bytes) {
        const address = koffi.alloc('uint8', bytes) as bigint;
        return { address, memory: new Uint8Array(koffi.view(address, bytes)) };
      },
      free: (address) => koffi.free(address),
      unload: () => lib.unload(),
    };
  } catch (error) {
    lib.unload();
    throw error;
  }
}

/** koffi names a prototype process-wide, so it is declared once for every module loaded. */
let getAttributeValue: KoffiModule.TypeObject | undefined;
function getAttributeValueType(koffi: Koffi): KoffiModule.TypeObject {
  getAttributeValue ??= koffi.proto(
    'unsigned long CK_C_GetAttributeValue(unsigned long session, unsigned long object, void *template, unsigned long count)',
  );
  return getAttributeValue;
}

const UNAVAILABLE_WORD = 0xffffffff;

/**
 * The error pkcs11js throws for a failed call, so callers (extractCkr, the session pool's retries
 * after a lost session) see a fast read fail exactly as a pkcs11js read would.
 */
function pkcs11Error(rv: number): Error {
  return new P.Pkcs11Error(`${ckrName(rv)}:${rv}`, rv, 'C_GetAttributeValue');
}

function handleOf(handle: Handle): bigint {
  return handle.length === 8 ? handle.readBigUInt64LE(0) : BigInt(handle.readUInt32LE(0));
}

export function createAttributeReader(boundary: NativeBoundary): AttributeReader {
  const slots = MAX_ATTRIBUTES * SLOT_BYTES;
  const total = MAX_ATTRIBUTES * ATTRIBUTE_BYTES + slots;
  const { address, memory } = boundary.alloc(total);
  const view = new DataView(memory.buffer, memory.byteOffset, memory.byteLength);
  const valuesAt = MAX_ATTRIBUTES * ATTRIBUTE_BYTES;
  let closed = false;

  const setUlong = (at: number, value: bigint) => view.setBigUint64(at, value, true);
  const lengthAt = (i: number): number | undefined => {
    const at = i * ATTRIBUTE_BYTES + 16;
    const lo = view.getUint32(at, true);
    const hi = view.getUint32(at + 4, true);
    if (lo === UNAVAILABLE_WORD && hi === UNAVAILABLE_WORD) return undefined;
    return hi * 2 ** 32 + lo;
  };
  const setAttribute = (i: number, type: number, value: bigint, length: number) => {
    const at = i * ATTRIBUTE_BYTES;
    setUlong(at, BigInt(type));
    setUlong(at + 8, value);
    setUlong(at + 16, BigInt(length));
  };
  const invoke = (session: Handle, object: Handle, count: number): number =>
    Number(boundary.call(handleOf(session), handleOf(object), address, count));
  const refuse = (types: readonly number[]) => {
    if (closed) throw new Error('attribute reader closed');
    for (const type of types) {
      if (SECRET_ATTRIBUTES.has(type)) throw new RangeError(`attribute 0x${type.toString(16)} is secret`);
    }
  };

  return {
    read(session, object, types) {
      refuse(types);
      if (types.length > MAX_ATTRIBUTES) throw new RangeError(`more than ${MAX_ATTRIBUTES} attributes`);
      types.forEach((type, i) =>
        setAttribute(
          i,
          type,
          address + BigInt(valuesAt + i * SLOT_BYTES),
          ULONG_ATTRIBUTES.has(type) ? ULONG_BYTES : SLOT_BYTES,
        ),
      );
      const rv = invoke(session, object, types.length);
      if (rv !== CKR_OK && !PARTIAL.has(rv)) throw pkcs11Error(rv);
      const values: AttrMap = new Map();
      const missing: number[] = [];
      types.forEach((type, i) => {
        const length = lengthAt(i);
        if (length === undefined || length > SLOT_BYTES) {
          values.set(type, undefined);
          missing.push(type);
          return;
        }
        const from = valuesAt + i * SLOT_BYTES;
        values.set(type, Buffer.from(memory.subarray(from, from + length)));
      });
      return { values, missing };
    },

    readOne(session, object, type) {
      refuse([type]);
      setAttribute(0, type, 0n, 0);
      let rv = invoke(session, object, 1);
      if (rv !== CKR_OK) throw pkcs11Error(rv);
      const length = lengthAt(0) ?? 0;
      const big = length > SLOT_BYTES ? boundary.alloc(length) : null;
      try {
        setAttribute(0, type, big ? big.address : address + BigInt(valuesAt), length);
        rv = invoke(session, object, 1);
        if (rv !== CKR_OK) throw pkcs11Error(rv);
        const got = lengthAt(0) ?? 0;
        return Buffer.from(big ? big.memory.subarray(0, got) : memory.subarray(valuesAt, valuesAt + got));
      } finally {
        if (big) {
          big.memory.fill(0);
          boundary.free(big.address);
        }
      }
    },

    wipe() {
      if (!closed) memory.fill(0);
    },

    close() {
      if (closed) return;
      memory.fill(0);
      closed = true;
      boundary.free(address);
      boundary.unload();
    },
  };
}

export type AttributeReaderChoice = 'auto' | 'pkcs11js';

/**
 * The reader for a module pkcs11js loaded from `modulePath`, or why there is none (the listing
 * then reads through pkcs11js, as before).
 */
export async function attributeReaderFor(
  modulePath: string,
  choice: AttributeReaderChoice = 'auto',
): Promise<{ reader: AttributeReader } | { reader: null; why: string }> {
  if (choice === 'pkcs11js') return { reader: null, why: 'pkcs11js reads chosen' };
  const abi = unsupportedAbi();
  if (abi) return { reader: null, why: abi };
  try {
    return { reader: createAttributeReader(koffiBoundary(await loadKoffi(), modulePath)) };
  } catch (error) {
    return { reader: null, why: error instanceof Error ? error.message : String(error) };
  }
}

/** The reader of a loaded module, made when first asked for. */
export interface LazyAttributeReader {
  get(): Promise<AttributeReader | null>;
  /** Frees the reader if it was made (or once it is); before the module is finalized. */
  close(): void;
}

export function lazyAttributeReader(
  modulePath: string,
  choice: AttributeReaderChoice,
  made: (outcome: { reader: AttributeReader } | { reader: null; why: string }) => void,
): LazyAttributeReader {
  let pending: Promise<AttributeReader | null> | null = null;
  let closed = false;
  return {
    get() {
      pending ??= attributeReaderFor(modulePath, choice).then((outcome) => {
        made(outcome);
        if (closed) outcome.reader?.close();
        return closed ? null : outcome.reader;
      });
      return pending;
    },
    close() {
      closed = true;
      void pending?.then((reader) => reader?.close());
    },
  };
}
