import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import type { RsaJwk } from '../../../shared/tokens.std';

/**
 * Public-key formats from the raw RSA components a token gives (CKA_MODULUS, CKA_PUBLIC_EXPONENT).
 * node:crypto builds the SubjectPublicKeyInfo from a JWK, so the DER is the same one the
 * gateway hashes for `spki_sha256`.
 */

const b64url = (buf: Buffer): string => buf.toString('base64url');

/** Big-endian unsigned integer bytes without leading zeros (JWK and DER INTEGER both want this). */
function stripLeadingZeros(buf: Buffer): Buffer {
  let i = 0;
  while (i < buf.length - 1 && buf[i] === 0) i++;
  return buf.subarray(i);
}

export interface RsaPublic {
  keyObject: KeyObject;
  spkiDer: Buffer;
  pem: string;
  jwk: RsaJwk;
  spkiSha256: string;
  bits: number;
}

export function rsaPublicFromComponents(modulus: Buffer, exponent: Buffer): RsaPublic {
  const n = stripLeadingZeros(modulus);
  const e = stripLeadingZeros(exponent);
  const jwk: RsaJwk = { kty: 'RSA', n: b64url(n), e: b64url(e) };
  const keyObject = createPublicKey({ key: { ...jwk }, format: 'jwk' });
  const spkiDer = keyObject.export({ type: 'spki', format: 'der' });
  const pem = keyObject.export({ type: 'spki', format: 'pem' }).toString();
  const bits = n.length * 8 - Math.clz32(n[0]!) + 24;
  return { keyObject, spkiDer, pem, jwk, spkiSha256: sha256Hex(spkiDer), bits };
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
