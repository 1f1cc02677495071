import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { MkmError } from '../../shared/errors.std';
import {
  deriveWithCmac,
  type CipherFamily,
  type Derivation,
  type KeyBlockCrypto,
} from '../../shared/formats/tr31/crypto.std';
import { aesCmac, tdesCmac } from '../crypto/kcv.nodejs';

/**
 * TR-31 key block cryptography with keys in this process's memory, on node:crypto. For tests,
 * and for a KBPK that a ceremony holds in memory for the length of one step; a token-backed
 * implementation of the same interface keeps KBPK, KBEK and KBAK on the token instead.
 */

export interface SoftKey {
  readonly family: CipherFamily;
  readonly bytes: Buffer;
}

const LENGTHS: Record<CipherFamily, readonly number[]> = { aes: [16, 24, 32], tdes: [16, 24] };

export function softKey(family: CipherFamily, bytes: Uint8Array): SoftKey {
  if (!LENGTHS[family].includes(bytes.length)) {
    throw new MkmError('KEY_SIZE_RANGE', undefined, { family, length: bytes.length });
  }
  return { family, bytes: Buffer.from(bytes) };
}

function cbcName(key: SoftKey): string {
  if (key.family === 'aes') return `aes-${key.bytes.length * 8}-cbc`;
  return key.bytes.length === 16 ? 'des-ede-cbc' : 'des-ede3-cbc';
}

function cmacOf(key: SoftKey, data: Uint8Array): Buffer {
  const message = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return key.family === 'aes' ? aesCmac(key.bytes, message) : tdesCmac(key.bytes, message);
}

function cbc(encrypt: boolean, key: SoftKey, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const c = encrypt
    ? createCipheriv(cbcName(key), key.bytes, iv)
    : createDecipheriv(cbcName(key), key.bytes, iv);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

/** `random` defaults to node:crypto's CSPRNG; tests pass a fixed source to rebuild published blocks. */
export function softKeyBlockCrypto(
  random: (length: number) => Uint8Array = randomBytes,
): KeyBlockCrypto<SoftKey> {
  return {
    cmac: (key, data) => Promise.resolve(new Uint8Array(cmacOf(key, data))),
    deriveKey: async (kbpk: SoftKey, derivation: Derivation) => {
      const bytes = await deriveWithCmac((data) => Promise.resolve(cmacOf(kbpk, data)), derivation);
      const key = softKey(derivation.family, bytes);
      bytes.fill(0);
      return key;
    },
    cbcEncrypt: (key, iv, data) => Promise.resolve(cbc(true, key, iv, data)),
    cbcDecrypt: (key, iv, data) => Promise.resolve(cbc(false, key, iv, data)),
    importKey: (family, bytes) => Promise.resolve(softKey(family, bytes)),
    dispose: (key) => {
      key.bytes.fill(0);
      return Promise.resolve();
    },
    random: (length) => new Uint8Array(random(length)),
  };
}
