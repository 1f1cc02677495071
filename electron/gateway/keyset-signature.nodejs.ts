import { constants, createSign, type KeyObject } from 'node:crypto';
import type { RsaPublicKey } from '../crypto/pem.nodejs';
import { canonicalJson } from '../../shared/formats/canonical-json.std';
import { verifySignature } from './exchange/package.nodejs';

/**
 * Contract 1.1's signed key sets, for both sides (the sandbox signs, the client verifies):
 *   sig = RSASSA-PSS(SHA-256, MGF1-SHA-256, salt 32) over
 *         ASCII("mkm-keyset-1.1") || 0x0a || RFC 8785 canonical JSON of the set without `sig`.
 * The context string keeps a key-set signature from ever verifying as a signature over anything
 * else the same key might be asked to sign (and the reverse).
 */

export const KEYSET_SIGNATURE_CONTEXT = 'mkm-keyset-1.1';
/** RSA keys below this many bits do not sign key sets (the contract asks for 3072 or more). */
export const SIGNING_KEY_MIN_BITS = 3072;

/** The bytes `sig` covers: every member the set carries except `sig` itself. */
export function keySetSignedBytes(set: Readonly<Record<string, unknown>>): Buffer {
  const { sig: _sig, ...unsigned } = set;
  return Buffer.concat([
    Buffer.from(`${KEYSET_SIGNATURE_CONTEXT}\n`, 'ascii'),
    Buffer.from(canonicalJson(unsigned), 'utf8'),
  ]);
}

/** base64 RSASSA-PSS-SHA256 (salt 32) of the set's signed bytes. */
export function signKeySet(privateKey: KeyObject, set: Readonly<Record<string, unknown>>): string {
  return createSign('sha256')
    .update(keySetSignedBytes(set))
    .sign({ key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
    .toString('base64');
}

/** Whether `set.sig` is a valid signature by `key` over the set (false for anything malformed). */
export function keySetSignatureValid(key: RsaPublicKey, set: Readonly<Record<string, unknown>>): boolean {
  const sig = set.sig;
  if (typeof sig !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(sig)) return false;
  const bytes = Buffer.from(sig, 'base64');
  // A PSS signature is exactly the modulus length; anything else is not one.
  if (bytes.length !== Math.ceil(key.modulusBits / 8)) return false;
  try {
    return verifySignature('RSASSA-PSS-SHA256', key, keySetSignedBytes(set), bytes);
  } catch {
    return false;
  }
}
