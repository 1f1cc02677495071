import { createCipheriv, createHmac } from 'node:crypto';

/**
 * Key check values as ../shared/gateway-api.md defines them. These run on clear keys, so only
 * the sandbox gateway, ceremonies (key components) and tests call them; keys on a token get
 * their KCV from the token (C_Sign with CKM_AES_CMAC).
 */

const ZERO_BLOCK = Buffer.alloc(16);
const RB = 0x87;

function leftShiftOne(block: Buffer): Buffer {
  const out = Buffer.alloc(16);
  let carry = 0;
  for (let i = 15; i >= 0; i--) {
    const b = block[i]!;
    out[i] = ((b << 1) | carry) & 0xff;
    carry = b >> 7;
  }
  return out;
}

function aesEcbBlock(key: Buffer, block: Buffer): Buffer {
  const cipher = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]);
}

/** AES-CMAC (NIST SP 800-38B, RFC 4493); node:crypto has no CMAC of its own. */
export function aesCmac(key: Buffer, message: Buffer): Buffer {
  if (![16, 24, 32].includes(key.length)) throw new RangeError('AES key must be 16, 24 or 32 bytes');
  const l = aesEcbBlock(key, ZERO_BLOCK);
  const k1 = leftShiftOne(l);
  if (l[0]! & 0x80) k1[15]! ^= RB;
  const k2 = leftShiftOne(k1);
  if (k1[0]! & 0x80) k2[15]! ^= RB;

  const blocks = Math.max(1, Math.ceil(message.length / 16));
  const complete = message.length > 0 && message.length % 16 === 0;
  const last = Buffer.alloc(16);
  const lastStart = (blocks - 1) * 16;
  if (complete) {
    for (let i = 0; i < 16; i++) last[i] = message[lastStart + i]! ^ k1[i]!;
  } else {
    const rest = message.subarray(lastStart);
    const padded = Buffer.alloc(16);
    rest.copy(padded);
    padded[rest.length] = 0x80;
    for (let i = 0; i < 16; i++) last[i] = padded[i]! ^ k2[i]!;
  }
  // CBC-MAC over the blocks: one ECB-less CBC call with a zero IV is the same arithmetic.
  const cipher = createCipheriv(`aes-${key.length * 8}-cbc`, key, ZERO_BLOCK);
  cipher.setAutoPadding(false);
  const body = Buffer.concat([message.subarray(0, lastStart), last]);
  const out = cipher.update(body);
  return out.subarray(out.length - 16);
}

/** `cmac` KCV of an AES key: first 3 bytes of AES-CMAC(key, 16 zero bytes), lowercase hex. */
export function aesCmacKcv(key: Buffer): string {
  return aesCmac(key, ZERO_BLOCK).subarray(0, 3).toString('hex');
}

/** `hmac` KCV of an HMAC key: first 3 bytes of HMAC-SHA256(key, 16 zero bytes), lowercase hex. */
export function hmacKcv(key: Buffer): string {
  return createHmac('sha256', key).update(ZERO_BLOCK).digest().subarray(0, 3).toString('hex');
}
