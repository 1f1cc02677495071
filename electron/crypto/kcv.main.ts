import { createCipheriv, createHmac } from 'node:crypto';

/**
 * Key check values as ../shared/gateway-api.md defines them. These run on clear keys, so only
 * the sandbox gateway, ceremonies (key components) and tests call them; keys on a token get
 * their KCV from the token (C_Sign with CKM_AES_CMAC).
 */

const ZERO_BLOCK = Buffer.alloc(16);

/** One CMAC per block cipher: its block size and the SP 800-38B constant R_b for that size. */
interface CmacCipher {
  name: string;
  blockSize: number;
  rb: number;
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

function cbcNoPadding(cipher: CmacCipher, key: Buffer, data: Buffer): Buffer {
  const c = createCipheriv(cipher.name, key, Buffer.alloc(cipher.blockSize));
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

/** CMAC (NIST SP 800-38B); node:crypto has no CMAC of its own. */
function cmac(cipher: CmacCipher, key: Buffer, message: Buffer): Buffer {
  const n = cipher.blockSize;
  const l = cbcNoPadding(cipher, key, Buffer.alloc(n));
  const k1 = leftShiftOne(l);
  if (l[0]! & 0x80) k1[n - 1]! ^= cipher.rb;
  const k2 = leftShiftOne(k1);
  if (k1[0]! & 0x80) k2[n - 1]! ^= cipher.rb;

  const blocks = Math.max(1, Math.ceil(message.length / n));
  const complete = message.length > 0 && message.length % n === 0;
  const last = Buffer.alloc(n);
  const lastStart = (blocks - 1) * n;
  if (complete) {
    for (let i = 0; i < n; i++) last[i] = message[lastStart + i]! ^ k1[i]!;
  } else {
    const rest = message.subarray(lastStart);
    const padded = Buffer.alloc(n);
    rest.copy(padded);
    padded[rest.length] = 0x80;
    for (let i = 0; i < n; i++) last[i] = padded[i]! ^ k2[i]!;
  }
  // CBC-MAC over the blocks: one CBC call with a zero IV is the same arithmetic.
  const out = cbcNoPadding(cipher, key, Buffer.concat([message.subarray(0, lastStart), last]));
  return out.subarray(out.length - n);
}

/** AES-CMAC (NIST SP 800-38B, RFC 4493). */
export function aesCmac(key: Buffer, message: Buffer): Buffer {
  if (![16, 24, 32].includes(key.length)) throw new RangeError('AES key must be 16, 24 or 32 bytes');
  return cmac({ name: `aes-${key.length * 8}-cbc`, blockSize: 16, rb: 0x87 }, key, message);
}

/** TDES-CMAC (NIST SP 800-38B with the 64-bit R_b), the PRF and MAC of TR-31 version B key blocks. */
export function tdesCmac(key: Buffer, message: Buffer): Buffer {
  if (key.length !== 16 && key.length !== 24) throw new RangeError('TDES key must be 16 or 24 bytes');
  return cmac(
    { name: key.length === 16 ? 'des-ede-cbc' : 'des-ede3-cbc', blockSize: 8, rb: 0x1b },
    key,
    message,
  );
}

/** `cmac` KCV of an AES key: first 3 bytes of AES-CMAC(key, 16 zero bytes), lowercase hex. */
export function aesCmacKcv(key: Buffer): string {
  return aesCmac(key, ZERO_BLOCK).subarray(0, 3).toString('hex');
}

/** `hmac` KCV of an HMAC key: first 3 bytes of HMAC-SHA256(key, 16 zero bytes), lowercase hex. */
export function hmacKcv(key: Buffer): string {
  return createHmac('sha256', key).update(ZERO_BLOCK).digest().subarray(0, 3).toString('hex');
}
