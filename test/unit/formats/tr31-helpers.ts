import {
  softKey,
  softKeyBlockCrypto,
  type SoftKey,
} from '../../../electron/ceremony/tr31-soft-crypto.nodejs';
import type { CipherFamily, Kbpk, KeyBlockCrypto } from '../../../shared/formats/tr31/crypto.std';
import type { ErrorCode } from '../../../shared/errors.std';
import type { PublishedBlock } from './tr31-vectors';

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();

export function kbpkOf(family: CipherFamily, keyHex: string): Kbpk<SoftKey> {
  const bytes = hex(keyHex);
  return { key: softKey(family, bytes), family, length: bytes.length };
}

/** The KBPK of a published block: version D blocks are under AES, version B under TDES. */
export function kbpkFor(v: PublishedBlock): Kbpk<SoftKey> {
  return kbpkOf(v.block[0] === 'D' ? 'aes' : 'tdes', v.kbpk);
}

/** A random source that hands out `bytes` once, to rebuild a block whose padding is published. */
export function fixedRandom(bytes: Uint8Array): (n: number) => Uint8Array {
  let used = false;
  return (n) => {
    if (used || n !== bytes.length) throw new Error(`fixed random: asked ${n}, have ${bytes.length}`);
    used = true;
    return bytes.slice();
  };
}

/** Soft crypto that keeps a copy of every decrypted buffer (the codec wipes its own). */
export function recordingCrypto(): { crypto: KeyBlockCrypto<SoftKey>; decrypted: Uint8Array[] } {
  const base = softKeyBlockCrypto();
  const decrypted: Uint8Array[] = [];
  return {
    decrypted,
    crypto: {
      ...base,
      cbcDecrypt: async (key, iv, data) => {
        const out = await base.cbcDecrypt(key, iv, data);
        decrypted.push(out.slice());
        return out;
      },
    },
  };
}

export async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<ErrorCode | 'accepted'> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'accepted';
  } catch (error) {
    const code = (error as { code?: ErrorCode }).code;
    if (code === undefined) throw error;
    return code;
  }
}
