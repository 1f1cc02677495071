import { createCipheriv, createHmac } from 'node:crypto';
import { COMPONENT_KEY_BYTES, componentKeyTypeName, wipe } from '../../shared/formats/components.std';
import { kcvLength, type KcvKeyType, type LabelledKcv } from '../../shared/formats/kcv-methods.std';
import { MkmError } from '../../shared/errors.std';
import type { KeyCheckMethod } from '../../shared/tokens.std';

/**
 * Key check values as ../shared/gateway-api.md defines them. These run on clear keys, so only
 * the sandbox gateway, ceremonies (key components) and tests call them; keys on a token get
 * their KCV from the token (C_Sign with CKM_AES_CMAC).
 */

const ZERO_BLOCK = Buffer.alloc(16);

/** A block cipher as CMAC uses it: block size, the constant Rb of its field, its ECB and CBC. */
interface CmacCipher {
  size: 8 | 16;
  rb: number;
  ecb: string;
  cbc: string;
}

const TDES_CIPHER: CmacCipher = { size: 8, rb: 0x1b, ecb: 'des-ede3-ecb', cbc: 'des-ede3-cbc' };

function aesCipher(key: Uint8Array): CmacCipher {
  if (![16, 24, 32].includes(key.length)) throw new RangeError('AES key must be 16, 24 or 32 bytes');
  const bits = key.length * 8;
  return { size: 16, rb: 0x87, ecb: `aes-${bits}-ecb`, cbc: `aes-${bits}-cbc` };
}

function leftShiftOne(block: Buffer): Buffer {
  const out = Buffer.alloc(block.length);
  let carry = 0;
  for (let i = block.length - 1; i >= 0; i--) {
    const b = block[i]!;
    out[i] = ((b << 1) | carry) & 0xff;
    carry = b >> 7;
  }
  return out;
}

function ecbBlock(algorithm: string, key: Uint8Array, block: Buffer): Buffer {
  const cipher = createCipheriv(algorithm, key, null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]);
}

/** CMAC (NIST SP 800-38B) over a 64- or 128-bit block cipher; node:crypto has no CMAC of its own. */
function cmac(c: CmacCipher, key: Uint8Array, message: Buffer): Buffer {
  const zero = Buffer.alloc(c.size);
  const l = ecbBlock(c.ecb, key, zero);
  const k1 = leftShiftOne(l);
  if (l[0]! & 0x80) k1[c.size - 1]! ^= c.rb;
  const k2 = leftShiftOne(k1);
  if (k1[0]! & 0x80) k2[c.size - 1]! ^= c.rb;

  const blocks = Math.max(1, Math.ceil(message.length / c.size));
  const complete = message.length > 0 && message.length % c.size === 0;
  const last = Buffer.alloc(c.size);
  const lastStart = (blocks - 1) * c.size;
  if (complete) {
    for (let i = 0; i < c.size; i++) last[i] = message[lastStart + i]! ^ k1[i]!;
  } else {
    const rest = message.subarray(lastStart);
    const padded = Buffer.alloc(c.size);
    rest.copy(padded);
    padded[rest.length] = 0x80;
    for (let i = 0; i < c.size; i++) last[i] = padded[i]! ^ k2[i]!;
  }
  // The subkeys are derived from the key: wiped once used, as the key's other copies are.
  const body = Buffer.concat([message.subarray(0, lastStart), last]);
  wipe(l, k1, k2);
  // CBC-MAC over the blocks: one ECB-less CBC call with a zero IV is the same arithmetic.
  const cipher = createCipheriv(c.cbc, key, zero);
  cipher.setAutoPadding(false);
  const out = cipher.update(body);
  wipe(last, body);
  return out.subarray(out.length - c.size);
}

/** AES-CMAC (NIST SP 800-38B, RFC 4493). */
export function aesCmac(key: Buffer, message: Buffer): Buffer {
  return cmac(aesCipher(key), key, message);
}

/**
 * A TDES key as node:crypto's des-ede3 takes it: a 3-key key as is, a 2-key key K1 K2 as
 * K1 K2 K1 in a new array the caller wipes.
 */
function tdes3(key: Uint8Array): { key: Uint8Array; copied: boolean } {
  if (key.length === 24) return { key, copied: false };
  if (key.length !== 16) throw new RangeError('TDES key must be 16 or 24 bytes');
  const out = new Uint8Array(24);
  out.set(key);
  out.set(key.subarray(0, 8), 16);
  return { key: out, copied: true };
}

/** TDES-CMAC (NIST SP 800-38B, 64-bit block), with a 2-key or 3-key TDES key. */
export function tdesCmac(key: Uint8Array, message: Buffer): Buffer {
  const k = tdes3(key);
  try {
    return cmac(TDES_CIPHER, k.key, message);
  } finally {
    if (k.copied) wipe(k.key);
  }
}

function tdesEcbZero(key: Uint8Array): Buffer {
  const k = tdes3(key);
  try {
    return ecbBlock(TDES_CIPHER.ecb, k.key, Buffer.alloc(8));
  } finally {
    if (k.copied) wipe(k.key);
  }
}

/** `cmac` KCV of an AES key: first 3 bytes of AES-CMAC(key, 16 zero bytes), lowercase hex. */
export function aesCmacKcv(key: Buffer): string {
  return aesCmac(key, ZERO_BLOCK).subarray(0, 3).toString('hex');
}

/** `hmac` KCV of an HMAC key: first 3 bytes of HMAC-SHA256(key, 16 zero bytes), lowercase hex. */
export function hmacKcv(key: Buffer): string {
  return createHmac('sha256', key).update(ZERO_BLOCK).digest().subarray(0, 3).toString('hex');
}

function checkKeyLength(type: KcvKeyType, key: Uint8Array): void {
  if (type === 'hmac') {
    if (key.length > 0) return;
    throw new MkmError('KEY_LENGTH_INVALID', 'An HMAC key cannot be empty.', {
      keyType: type,
      actualBytes: 0,
    });
  }
  const expected = COMPONENT_KEY_BYTES[type];
  if (key.length === expected) return;
  throw new MkmError('KEY_LENGTH_INVALID', `A ${componentKeyTypeName(type)} key has ${expected} bytes.`, {
    keyType: type,
    actualBytes: key.length,
  });
}

/**
 * The KCV of a clear key (or component) by a named method, labelled with it:
 *  - `legacy` (ANSI X9.24-1): the first 3 bytes of one zero block encrypted in ECB (TDES, AES);
 *  - `cmac` (X9.24-1:2017 / X9.143): the first 3 to 5 bytes of the CMAC of one zero block
 *    (AES-CMAC over 16 bytes, TDES-CMAC over 8);
 *  - `hmac`: `hmacKcv`, for HMAC keys.
 * A method that does not apply (`hmac` for AES, `legacy` for HMAC, `token` for any clear key)
 * is refused with KCV_METHOD_NOT_APPLICABLE; a key of the wrong length with KEY_LENGTH_INVALID.
 */
export function kcv(type: KcvKeyType, key: Uint8Array, method: KeyCheckMethod, length?: number): LabelledKcv {
  const bytes = kcvLength(type, method, length);
  checkKeyLength(type, key);
  const tdes = type === 'tdes-2key' || type === 'tdes-3key';
  // A view on the caller's bytes, not a copy: nothing more to wipe.
  const view = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  let value: Buffer;
  if (method === 'hmac') value = createHmac('sha256', view).update(ZERO_BLOCK).digest();
  else if (method === 'legacy')
    value = tdes ? tdesEcbZero(view) : ecbBlock(aesCipher(view).ecb, view, ZERO_BLOCK);
  else value = tdes ? tdesCmac(view, Buffer.alloc(8)) : aesCmac(view, ZERO_BLOCK);
  return { kcv: value.subarray(0, bytes).toString('hex'), method };
}
