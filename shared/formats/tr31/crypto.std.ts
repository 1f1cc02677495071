/**
 * The cryptography a key block needs, injected so the same codec runs with keys in host
 * memory (tests, the software implementation in electron/ceremony/tr31-soft-crypto.nodejs.ts)
 * or on a PKCS#11 token later. `K` is an opaque key handle: the codec never reads key bytes
 * through it. Each key handle belongs to one cipher family; the implementation knows which.
 */

export type CipherFamily = 'aes' | 'tdes';

/** A key block protection key, as the codec needs to know it: its handle, cipher and size. */
export interface Kbpk<K> {
  key: K;
  family: CipherFamily;
  /** Bytes: 16 or 24 for TDES (version B), 16, 24 or 32 for AES (version D). */
  length: number;
}

/**
 * One derived key: the KDF in counter mode of NIST SP 800-108 with CMAC as its PRF, as
 * TR-31:2018 A.4 and X9.143 6.3.2 define it. `inputs[i]` is the PRF input for counter i + 1;
 * the key is the PRF outputs concatenated and cut to `length` bytes.
 */
export interface Derivation {
  family: CipherFamily;
  role: 'encryption' | 'mac';
  length: number;
  inputs: Uint8Array[];
}

export interface KeyBlockCrypto<K> {
  /**
   * CMAC (SP 800-38B) under `key`, with the key's own cipher. Exists because the block's MAC
   * is a CMAC over the header and the clear key data (versions B and D), and because the
   * `cmac` KCV method of the KC and KP blocks is one.
   */
  cmac(key: K, data: Uint8Array): Promise<Uint8Array>;
  /**
   * Derives the block encryption key (KBEK) or block MAC key (KBAK) from the KBPK. Separate
   * from `cmac` so a token can keep both derived keys inside (PKCS#11 3.0
   * CKM_SP800_108_COUNTER_KDF with a CMAC PRF); a token without it can compute the CMACs and
   * build the key from them with `deriveWithCmac` below.
   */
  deriveKey(kbpk: K, derivation: Derivation): Promise<K>;
  /**
   * CBC without padding. Encrypt exists for wrapping (the IV is the block's MAC) and for the
   * legacy KCV (one zero block under a zero IV is ECB); decrypt for unwrapping.
   */
  cbcEncrypt(key: K, iv: Uint8Array, data: Uint8Array): Promise<Uint8Array>;
  cbcDecrypt(key: K, iv: Uint8Array, data: Uint8Array): Promise<Uint8Array>;
  /**
   * A handle for a clear key of the given family. Exists only for KC blocks: the check value
   * of the key a block carries is computed with the same primitives as every other one.
   */
  importKey(family: CipherFamily, bytes: Uint8Array): Promise<K>;
  /**
   * Destroys a key the codec made: KBEK, KBAK and the KC handles (never the KBPK, which is
   * the caller's). A token destroys the session object; memory implementations wipe it.
   */
  dispose(key: K): Promise<void>;
  /** Random bytes for the key data's padding (and nothing else). */
  random(length: number): Uint8Array;
}

/** The software (or CMAC-only token) way to run a `Derivation`: PRF outputs in order, then cut. */
export async function deriveWithCmac(
  cmac: (data: Uint8Array) => Promise<Uint8Array>,
  derivation: Derivation,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const input of derivation.inputs) parts.push(await cmac(input));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
    p.fill(0);
  }
  if (out.length < derivation.length) throw new RangeError('derivation produced too few bytes');
  const key = out.slice(0, derivation.length);
  out.fill(0);
  return key;
}
