import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The secure-message envelope of ../shared/gateway-api.md: AES-256-CBC with PKCS#7 padding,
 * authenticated by HMAC-SHA256 over ASCII(dir) || '.' || UTF-8(set_id) || '.' || iv || ciphertext
 * (contract 1.1: `req` for the client's message, `rsp` for the sandbox's answer).
 */

export type MacDirection = 'req' | 'rsp';

export function envelopeMac(
  macKey: Buffer,
  dir: MacDirection,
  setId: string,
  iv: Buffer,
  ciphertext: Buffer,
): Buffer {
  return createHmac('sha256', macKey)
    .update(Buffer.from(dir, 'ascii'))
    .update(Buffer.from([0x2e]))
    .update(Buffer.from(setId, 'utf8'))
    .update(Buffer.from([0x2e]))
    .update(iv)
    .update(ciphertext)
    .digest();
}

export interface SetKeys {
  setId: string;
  encKey: Buffer;
  macKey: Buffer;
}

/**
 * Authenticate a client's request (`req`), then decrypt. Every failure (wrong MAC length, wrong MAC, bad padding, a
 * ciphertext that is not whole blocks) returns null, so the caller cannot answer them
 * differently: no padding oracle.
 */
export function openEnvelope(keys: SetKeys, iv: Buffer, ciphertext: Buffer, mac: Buffer): Buffer | null {
  const expected = envelopeMac(keys.macKey, 'req', keys.setId, iv, ciphertext);
  // timingSafeEqual throws on a length mismatch; compare against a same-length dummy instead.
  const given = mac.length === expected.length ? mac : Buffer.alloc(expected.length);
  const macOk = timingSafeEqual(given, expected) && mac.length === expected.length;
  if (!macOk) return null;
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) return null;
  try {
    const decipher = createDecipheriv('aes-256-cbc', keys.encKey, iv);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    return null;
  }
}

export interface SealedEnvelope {
  iv: Buffer;
  ciphertext: Buffer;
  mac: Buffer;
}

/** An answer (`rsp`). Each response gets a fresh random IV; reusing the set's request IV would repeat a CBC IV. */
export function sealEnvelope(keys: SetKeys, plaintext: Buffer): SealedEnvelope {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', keys.encKey, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, mac: envelopeMac(keys.macKey, 'rsp', keys.setId, iv, ciphertext) };
}
