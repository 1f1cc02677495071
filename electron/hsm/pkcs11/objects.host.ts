import type { PKCS11, Handle, Template } from './pkcs11.host';
import { pkcs11js, readBool, readUlong } from './pkcs11.host';
import { attributesUnreadable } from './ckr.std';
import type { AttrMap, AttributeRead, AttributeReader } from './attribute-reader.host';
import type { KeyUsage, ObjectClass, ObjectInfo } from '../../../shared/tokens.std';

/**
 * Object enumeration and description. One C_GetAttributeValue per object, with a template made
 * for its class (and RSA key type), because a template that names an attribute the object does
 * not have fails whole (CKR_ATTRIBUTE_TYPE_INVALID) on most tokens (and pkcs11js keeps none of
 * the values then). Only when a token still refuses do we fall back to one call per attribute for
 * that object. Listing every object is one search: each object is read with the template of the
 * class most objects so far had, and only one that turns out to be of another class costs a look
 * at its class and a second read (see listAll).
 *
 * A listing given an AttributeReader (attribute-reader.host.ts) reads through it: one module call
 * per object instead of pkcs11js's two, and the attributes a token refuses are known from that
 * one call rather than from a second round of reads.
 */
const P = pkcs11js;

export const CLASS_VALUE: Record<Exclude<ObjectClass, 'other'>, number> = {
  secret: P.CKO_SECRET_KEY,
  private: P.CKO_PRIVATE_KEY,
  public: P.CKO_PUBLIC_KEY,
  certificate: P.CKO_CERTIFICATE,
  data: P.CKO_DATA,
};

export function classOf(value: number | null): ObjectClass {
  for (const [name, v] of Object.entries(CLASS_VALUE)) if (v === value) return name as ObjectClass;
  return 'other';
}

/**
 * Every CKK_* of PKCS#11 v2.40 and v3.0 (values from pkcs11t.h; pkcs11js lacks the 3.0 ones).
 * A token may type an HMAC key by its hash (CKK_SHA256_HMAC, 0x2b) rather than as a generic
 * secret; both are HMAC keys to mkm.
 */
const KEY_TYPE_NAMES: Record<number, string> = {
  0x00: 'rsa',
  0x01: 'dsa',
  0x02: 'dh',
  0x03: 'ec',
  0x04: 'x9.42-dh',
  0x05: 'kea',
  0x10: 'generic-secret',
  0x11: 'rc2',
  0x12: 'rc4',
  0x13: 'des',
  0x14: 'des2',
  0x15: 'des3',
  0x16: 'cast',
  0x17: 'cast3',
  0x18: 'cast128',
  0x19: 'rc5',
  0x1a: 'idea',
  0x1b: 'skipjack',
  0x1c: 'baton',
  0x1d: 'juniper',
  0x1e: 'cdmf',
  0x1f: 'aes',
  0x20: 'blowfish',
  0x21: 'twofish',
  0x22: 'securid',
  0x23: 'hotp',
  0x24: 'acti',
  0x25: 'camellia',
  0x26: 'aria',
  0x27: 'md5-hmac',
  0x28: 'sha1-hmac',
  0x29: 'ripemd128-hmac',
  0x2a: 'ripemd160-hmac',
  0x2b: 'sha256-hmac',
  0x2c: 'sha384-hmac',
  0x2d: 'sha512-hmac',
  0x2e: 'sha224-hmac',
  0x2f: 'seed',
  0x30: 'gostr3410',
  0x31: 'gostr3411',
  0x32: 'gost28147',
  0x33: 'chacha20',
  0x34: 'poly1305',
  0x35: 'aes-xts',
  0x36: 'sha3-224-hmac',
  0x37: 'sha3-256-hmac',
  0x38: 'sha3-384-hmac',
  0x39: 'sha3-512-hmac',
  0x3a: 'blake2b-160-hmac',
  0x3b: 'blake2b-256-hmac',
  0x3c: 'blake2b-384-hmac',
  0x3d: 'blake2b-512-hmac',
  0x3e: 'salsa20',
  0x3f: 'x2ratchet',
  0x40: 'ec-edwards',
  0x41: 'ec-montgomery',
  0x42: 'hkdf',
  0x43: 'sha512-224-hmac',
  0x44: 'sha512-256-hmac',
  0x45: 'sha512-t-hmac',
};

export { HMAC_SHA256_KEY_TYPES } from '../../../shared/tokens.std';

export function keyTypeName(value: number | null): string | null {
  if (value === null) return null;
  if (KEY_TYPE_NAMES[value]) return KEY_TYPE_NAMES[value];
  return value >= 0x80000000 ? `vendor-0x${value.toString(16)}` : `0x${value.toString(16)}`;
}

const COMMON = [P.CKA_CLASS, P.CKA_ID, P.CKA_LABEL, P.CKA_TOKEN, P.CKA_PRIVATE];
const KEY = [P.CKA_KEY_TYPE, P.CKA_LOCAL, P.CKA_DERIVE];
const PROTECTED = [P.CKA_SENSITIVE, P.CKA_EXTRACTABLE, P.CKA_ALWAYS_SENSITIVE, P.CKA_NEVER_EXTRACTABLE];

const USAGE_ATTR: [number, KeyUsage][] = [
  [P.CKA_ENCRYPT, 'encrypt'],
  [P.CKA_DECRYPT, 'decrypt'],
  [P.CKA_WRAP, 'wrap'],
  [P.CKA_UNWRAP, 'unwrap'],
  [P.CKA_SIGN, 'sign'],
  [P.CKA_VERIFY, 'verify'],
  [P.CKA_DERIVE, 'derive'],
];

interface Query {
  find: Template;
  attrs: number[];
}

const QUERIES: Record<Exclude<ObjectClass, 'other'>, Query[]> = {
  secret: [
    {
      find: [{ type: P.CKA_CLASS, value: P.CKO_SECRET_KEY }],
      attrs: [
        ...COMMON,
        ...KEY,
        ...PROTECTED,
        P.CKA_ENCRYPT,
        P.CKA_DECRYPT,
        P.CKA_WRAP,
        P.CKA_UNWRAP,
        P.CKA_SIGN,
        P.CKA_VERIFY,
        P.CKA_VALUE_LEN,
      ],
    },
  ],
  private: [
    {
      find: [
        { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY },
        { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
      ],
      attrs: [...COMMON, ...KEY, ...PROTECTED, P.CKA_DECRYPT, P.CKA_UNWRAP, P.CKA_SIGN, P.CKA_MODULUS],
    },
    {
      find: [{ type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY }],
      attrs: [...COMMON, ...KEY, ...PROTECTED, P.CKA_DECRYPT, P.CKA_UNWRAP, P.CKA_SIGN],
    },
  ],
  public: [
    {
      find: [
        { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
        { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
      ],
      attrs: [...COMMON, ...KEY, P.CKA_ENCRYPT, P.CKA_WRAP, P.CKA_VERIFY, P.CKA_MODULUS_BITS],
    },
    {
      find: [{ type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY }],
      attrs: [...COMMON, ...KEY, P.CKA_ENCRYPT, P.CKA_WRAP, P.CKA_VERIFY],
    },
  ],
  certificate: [{ find: [{ type: P.CKA_CLASS, value: P.CKO_CERTIFICATE }], attrs: COMMON }],
  // Data objects have no CKA_ID (PKCS#11 defines it for keys and certificates only): asking for it
  // makes a token refuse the whole template and costs a fallback read per attribute per object.
  data: [
    {
      find: [{ type: P.CKA_CLASS, value: P.CKO_DATA }],
      attrs: COMMON.filter((a) => a !== P.CKA_ID),
    },
  ],
};

const FIND_BATCH = 1000;

export function findHandles(pkcs11: PKCS11, session: Handle, template: Template): Handle[] {
  pkcs11.C_FindObjectsInit(session, template);
  try {
    const out: Handle[] = [];
    for (;;) {
      const batch = pkcs11.C_FindObjects(session, FIND_BATCH);
      out.push(...batch);
      if (batch.length < FIND_BATCH) return out;
    }
  } finally {
    pkcs11.C_FindObjectsFinal(session);
  }
}

/** Where a listing reads attributes: pkcs11js, or the one-call reader when there is one. */
interface Reads {
  pkcs11: PKCS11;
  session: Handle;
  reader: AttributeReader | null;
}

/** The attributes one call could not give, read one at a time as the pkcs11js fallback reads them. */
function complete(reads: Reads, handle: Handle, read: AttributeRead): AttrMap {
  for (const type of read.missing) {
    try {
      read.values.set(type, reads.reader!.readOne(reads.session, handle, type));
    } catch {
      read.values.set(type, undefined);
    }
  }
  return read.values;
}

/** One C_GetAttributeValue through pkcs11js, every attribute of `types` at once; throws as it does. */
function readAll({ pkcs11, session }: Reads, handle: Handle, types: number[]): AttrMap {
  const values: AttrMap = new Map();
  const result = pkcs11.C_GetAttributeValue(
    session,
    handle,
    types.map((type) => ({ type })),
  );
  for (const a of result) values.set(a.type, a.value as Buffer | undefined);
  return values;
}

function readAttrs(reads: Reads, handle: Handle, types: number[]): AttrMap {
  const { pkcs11, session, reader } = reads;
  if (reader) return complete(reads, handle, reader.read(session, handle, types));
  try {
    return readAll(reads, handle, types);
  } catch (error) {
    if (!attributesUnreadable(error)) throw error;
  }
  const map: AttrMap = new Map();
  for (const type of types) {
    try {
      const [a] = pkcs11.C_GetAttributeValue(session, handle, [{ type }]);
      map.set(type, a?.value as Buffer | undefined);
    } catch {
      map.set(type, undefined);
    }
  }
  return map;
}

function describe(attrs: AttrMap): ObjectInfo {
  const cls = classOf(readUlong(attrs.get(P.CKA_CLASS)));
  const keyType = readUlong(attrs.get(P.CKA_KEY_TYPE));
  const isKey = cls === 'secret' || cls === 'private' || cls === 'public';
  const valueLen = readUlong(attrs.get(P.CKA_VALUE_LEN));
  const modulus = attrs.get(P.CKA_MODULUS);
  const modulusBits = readUlong(attrs.get(P.CKA_MODULUS_BITS));
  let bits: number | null = null;
  // SoftHSM2 2.6 reports CKA_VALUE_LEN 0 for unwrapped keys: unknown, not zero bits.
  if (valueLen !== null && valueLen > 0) bits = valueLen * 8;
  else if (modulusBits !== null) bits = modulusBits;
  else if (modulus && modulus.length > 0) bits = bitLength(modulus);
  const usages: KeyUsage[] = [];
  for (const [type, usage] of USAGE_ATTR) if (readBool(attrs.get(type)) === true) usages.push(usage);
  return {
    id: (attrs.get(P.CKA_ID) ?? Buffer.alloc(0)).toString('hex'),
    class: cls,
    label: (attrs.get(P.CKA_LABEL) ?? Buffer.alloc(0)).toString('utf8'),
    keyType: isKey ? keyTypeName(keyType) : null,
    bits,
    token: readBool(attrs.get(P.CKA_TOKEN)) === true,
    private: readBool(attrs.get(P.CKA_PRIVATE)) === true,
    local: readBool(attrs.get(P.CKA_LOCAL)),
    sensitive: readBool(attrs.get(P.CKA_SENSITIVE)),
    extractable: readBool(attrs.get(P.CKA_EXTRACTABLE)),
    alwaysSensitive: readBool(attrs.get(P.CKA_ALWAYS_SENSITIVE)),
    neverExtractable: readBool(attrs.get(P.CKA_NEVER_EXTRACTABLE)),
    usages,
  };
}

function bitLength(bigEndian: Buffer): number {
  let i = 0;
  while (i < bigEndian.length && bigEndian[i] === 0) i++;
  if (i === bigEndian.length) return 0;
  return (bigEndian.length - i) * 8 - (Math.clz32(bigEndian[i]!) - 24);
}

export interface FoundObject {
  handle: Handle;
  info: ObjectInfo;
}

/** Every object of the class (or of all classes), described. `extra` narrows the search. */
export function listObjectsRaw(
  pkcs11: PKCS11,
  session: Handle,
  cls?: ObjectClass,
  extra: Template = [],
  reader: AttributeReader | null = null,
): FoundObject[] {
  const reads: Reads = { pkcs11, session, reader };
  try {
    return cls ? listClass(reads, cls, extra) : listAll(reads, extra);
  } finally {
    reader?.wipe();
  }
}

function listClass(reads: Reads, cls: ObjectClass, extra: Template): FoundObject[] {
  const { pkcs11, session } = reads;
  const seen = new Set<string>();
  const out: FoundObject[] = [];
  const classes = cls === 'other' ? [] : [cls];
  for (const c of classes) {
    for (const q of QUERIES[c]) {
      for (const handle of findHandles(pkcs11, session, [...q.find, ...extra])) {
        const key = handle.toString('hex');
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ handle, info: describe(readAttrs(reads, handle, q.attrs)) });
      }
    }
  }
  if (cls === 'other') {
    // Domain parameters, OTP keys, vendor classes: listed by their common attributes only.
    for (const handle of findHandles(pkcs11, session, extra)) {
      const key = handle.toString('hex');
      if (seen.has(key)) continue;
      seen.add(key);
      const info = describe(readAttrs(reads, handle, COMMON));
      if (info.class === 'other') out.push({ handle, info });
    }
  }
  return out;
}

// Domain parameters, OTP keys, vendor classes: described by their common attributes only.
const OTHER: Query = { find: [], attrs: COMMON };

/** Every query in the order a class-by-class listing runs them: the order objects are listed in. */
const RANKED: Query[] = [...Object.values(QUERIES).flat(), OTHER];
const RANK = new Map<Query, number>(RANKED.map((q, i) => [q, i]));

/**
 * The query a class-by-class listing finds this object with: the first of its class whose search
 * template the object's class and key type match.
 */
function queryOf(cls: number | null, keyType: number | null): Query {
  const name = classOf(cls);
  if (name === 'other') return OTHER;
  return (
    QUERIES[name].find((q) => q.find.every((a) => a.type !== P.CKA_KEY_TYPE || a.value === keyType)) ?? OTHER
  );
}

/**
 * The query for an object whose template read failed or showed another class. A value the read
 * holds as undefined (the one-call reader's refused attributes) is looked at again on its own, as
 * when the read failed whole.
 */
function kindOf(reads: Reads, handle: Handle, read: AttrMap | undefined): Query {
  const known = (type: number) =>
    read?.get(type) !== undefined ? read.get(type) : readAttrs(reads, handle, [type]).get(type);
  const cls = readUlong(known(P.CKA_CLASS));
  const name = classOf(cls);
  if (name !== 'private' && name !== 'public') return queryOf(cls, null);
  return queryOf(cls, readUlong(known(P.CKA_KEY_TYPE)));
}

/**
 * One C_GetAttributeValue with a guessed template: undefined when the token refuses it. The
 * one-call reader refuses only what pkcs11js would fail whole on (§5.7), and reports which.
 */
function tryRead(reads: Reads, handle: Handle, types: number[]): AttributeRead | undefined {
  const { session, reader } = reads;
  try {
    if (reader) return reader.read(session, handle, types);
    return { values: readAll(reads, handle, types), missing: [] };
  } catch {
    // A wrong guess, or a failure the read with the object's own template meets again.
    return undefined;
  }
}

/**
 * Every object, in one search. A search costs the token a walk over all its objects (SoftHSM2: a
 * look at every object file), so one per class made the listing pay that walk eight times. Each
 * object is read with the template of the most common query so far; the read is kept only when
 * the object's class and key type say it is the template a class-by-class listing would have
 * read it with, so every object is described exactly as before, in the same order.
 */
function listAll(reads: Reads, extra: Template): FoundObject[] {
  const seen = new Set<string>();
  const found: { rank: number; object: FoundObject }[] = [];
  const hits = new Map<Query, number>();
  let guess = RANKED[0]!;
  for (const handle of findHandles(reads.pkcs11, reads.session, extra)) {
    const key = handle.toString('hex');
    if (seen.has(key)) continue;
    seen.add(key);
    const read = tryRead(reads, handle, guess.attrs);
    let query = read && kindOf(reads, handle, read.values);
    let attrs: AttrMap;
    if (read && query === guess) attrs = complete(reads, handle, read);
    else {
      query = query ?? kindOf(reads, handle, undefined);
      attrs = readAttrs(reads, handle, query.attrs);
    }
    const info = describe(attrs);
    if (query === OTHER && info.class !== 'other') continue;
    found.push({ rank: RANK.get(query)!, object: { handle, info } });
    const count = (hits.get(query) ?? 0) + 1;
    hits.set(query, count);
    if (count > (hits.get(guess) ?? 0)) guess = query;
  }
  // Array.prototype.sort is stable: within a query, the token's own order stays.
  return found.sort((a, b) => a.rank - b.rank).map((f) => f.object);
}

/** Objects with this CKA_ID (hex) and class. */
export function findById(pkcs11: PKCS11, session: Handle, id: string, cls: ObjectClass): FoundObject[] {
  return listObjectsRaw(pkcs11, session, cls, [{ type: P.CKA_ID, value: Buffer.from(id, 'hex') }]);
}

/** Raw attribute bytes (public components, values of non-sensitive objects). */
export function readAttribute(
  pkcs11: PKCS11,
  session: Handle,
  handle: Handle,
  type: number,
): Buffer | undefined {
  const [a] = pkcs11.C_GetAttributeValue(session, handle, [{ type }]);
  return a?.value as Buffer | undefined;
}
