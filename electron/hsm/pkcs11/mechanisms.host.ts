import { MkmError } from '../../../shared/errors.std';
import type { Mechanism } from './pkcs11.host';
import type { AesGCM, RsaOAEP, RsaPSS } from 'pkcs11js';
import { pkcs11js } from './pkcs11.host';
import type { CipherMechanism, WrapMechanism } from '../../../shared/tokens.std';

const P = pkcs11js;
/** CKZ_DATA_SPECIFIED: OAEP label source; pkcs11js does not export it. Empty label. */
const CKZ_DATA_SPECIFIED = 1;

export function oaep(hash: 'sha1' | 'sha256'): Mechanism {
  const parameter: RsaOAEP = {
    type: P.CK_PARAMS_RSA_OAEP,
    hashAlg: hash === 'sha1' ? P.CKM_SHA_1 : P.CKM_SHA256,
    mgf: hash === 'sha1' ? P.CKG_MGF1_SHA1 : P.CKG_MGF1_SHA256,
    source: CKZ_DATA_SPECIFIED,
  };
  return { mechanism: P.CKM_RSA_PKCS_OAEP, parameter };
}

export function isRsaMechanism(m: CipherMechanism | WrapMechanism): boolean {
  return m.startsWith('RSA_');
}

export function cipherMechanism(m: CipherMechanism, iv?: Buffer): Mechanism {
  switch (m) {
    case 'AES_CBC_PAD':
    case 'AES_CBC':
      if (!iv || iv.length !== 16)
        throw new MkmError('VALIDATION', 'AES-CBC needs a 16-byte IV.', { field: 'iv' });
      return { mechanism: m === 'AES_CBC' ? P.CKM_AES_CBC : P.CKM_AES_CBC_PAD, parameter: iv };
    case 'RSA_OAEP_SHA1':
      return oaep('sha1');
    case 'RSA_OAEP_SHA256':
      return oaep('sha256');
    case 'RSA_PKCS':
      return { mechanism: P.CKM_RSA_PKCS };
  }
}

/**
 * RFC 3394's default initial value, A6A6A6A6A6A6A6A6: a new copy each call, so a caller may wipe
 * or reuse what it gets without changing anyone else's.
 */
export function rfc3394Iv(): Buffer {
  return Buffer.alloc(8, 0xa6);
}

/** CKM_AES_KEY_WRAP_KWP (PKCS#11 3.0): RFC 5649; pkcs11js does not export it. */
export const CKM_AES_KEY_WRAP_KWP = 0x210b;

/**
 * `kwp`: the token's RFC 5649 mechanism (0x210B, or 0x210A where that is RFC 5649, as in
 * SoftHSM2); NSS's 0x210A pads otherwise, so the token service picks per token.
 */
export function wrapMechanism(m: WrapMechanism, kwp: number = P.CKM_AES_KEY_WRAP_PAD): Mechanism {
  switch (m) {
    case 'RSA_OAEP_SHA1':
      return oaep('sha1');
    case 'RSA_OAEP_SHA256':
      return oaep('sha256');
    case 'AES_KEY_WRAP':
      return { mechanism: P.CKM_AES_KEY_WRAP };
    case 'AES_KEY_WRAP_PAD':
      return { mechanism: kwp };
  }
}

export const CMAC: Mechanism = { mechanism: P.CKM_AES_CMAC };
export const HMAC_SHA256: Mechanism = { mechanism: P.CKM_SHA256_HMAC };
export const SHA256_RSA_PKCS: Mechanism = { mechanism: P.CKM_SHA256_RSA_PKCS };
/** RSASSA-PSS, SHA-256, MGF1-SHA-256, salt as long as the hash (what openssl and node verify by default with saltlen 32). */
const PSS_SHA256: RsaPSS = {
  type: P.CK_PARAMS_RSA_PSS,
  hashAlg: P.CKM_SHA256,
  mgf: P.CKG_MGF1_SHA256,
  saltLen: 32,
};
export const SHA256_RSA_PSS: Mechanism = { mechanism: P.CKM_SHA256_RSA_PKCS_PSS, parameter: PSS_SHA256 };

// ---- ceremony key forming (issue 11 point 3): XOR of a component into a key on the token ----
/**
 * CKM_XOR_BASE_AND_DATA with `data` XORed into the base key. Its parameter is
 * CK_KEY_DERIVATION_STRING_DATA { CK_BYTE_PTR pData; CK_ULONG ulLen }, which pkcs11js cannot
 * build (a raw Buffer would be read as that struct, and NSS crashes on it). pkcs11js's
 * CK_AES_GCM_PARAMS begins with the same two fields (pIv, ulIvLen) and points pIv at the
 * Buffer's own bytes (no copy made, so the caller's wipe reaches them); a token reading the
 * derivation struct from it reads exactly `data`. A token that checks the parameter's length
 * strictly refuses it (CKR_MECHANISM_PARAM_INVALID), and the key is then formed in the host.
 */
export function xorBaseAndData(data: Buffer): Mechanism {
  const parameter: AesGCM = { type: P.CK_PARAMS_AES_GCM, iv: data, ivBits: 0, tagBits: 0 };
  return { mechanism: P.CKM_XOR_BASE_AND_DATA, parameter };
}
