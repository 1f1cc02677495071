import {
  constants,
  createHash,
  createPublicKey,
  generateKeyPair,
  privateDecrypt,
  publicEncrypt,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(generateKeyPair);

export type Wrapping = 'RSAES-OAEP-SHA256' | 'RSAES-OAEP-SHA1';
export type FieldPadding = 'RSAES-PKCS1-V1_5' | 'RSAES-OAEP-SHA256';
export const WRAPPINGS: readonly Wrapping[] = ['RSAES-OAEP-SHA256', 'RSAES-OAEP-SHA1'];
export const FIELD_PADDINGS: readonly FieldPadding[] = ['RSAES-PKCS1-V1_5', 'RSAES-OAEP-SHA256'];

export const MIN_MODULUS_BITS = 2048;
// A cap keeps a hostile registration from making every wrap cost seconds.
export const MAX_MODULUS_BITS = 8192;

export function spkiSha256(key: KeyObject): string {
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

export interface GeneratedRsaKey {
  privatePem: string;
  publicPem: string;
}

/** Async so that a rotation does not stall every other connection for the keygen's duration. */
export async function generateRsaKey(bits = 2048): Promise<GeneratedRsaKey> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: bits,
    publicExponent: 0x10001,
  });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

export type MerchantKeyCheck = { ok: true; key: KeyObject; bits: number } | { ok: false; reason: string };

/**
 * A merchant transport key must be a public RSA key of at least 2048 bits. createPublicKey
 * would happily derive a public key from a private PEM, so a private key is refused by its
 * armour first: the gateway must never be handed (let alone store) a merchant's private half.
 */
export function checkMerchantPublicKey(pem: string): MerchantKeyCheck {
  if (/PRIVATE KEY/.test(pem))
    return { ok: false, reason: 'public_key_pem holds a private key; send the public half' };
  if (!/^-----BEGIN (RSA )?PUBLIC KEY-----/m.test(pem)) {
    return { ok: false, reason: 'public_key_pem must be a PEM "PUBLIC KEY" or "RSA PUBLIC KEY"' };
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    return { ok: false, reason: 'public_key_pem is not a readable public key' };
  }
  // rsa-pss keys are restricted to signing; they cannot be used for OAEP key transport.
  if (key.asymmetricKeyType !== 'rsa') return { ok: false, reason: 'public_key_pem must be an RSA key' };
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_MODULUS_BITS)
    return { ok: false, reason: `RSA key must be at least ${MIN_MODULUS_BITS} bits` };
  if (bits > MAX_MODULUS_BITS)
    return { ok: false, reason: `RSA key must be at most ${MAX_MODULUS_BITS} bits` };
  const e = key.asymmetricKeyDetails?.publicExponent ?? 0n;
  if (e < 3n || e % 2n === 0n) return { ok: false, reason: 'RSA public exponent is not valid' };
  return { ok: true, key, bits };
}

export function wrapOaep(publicKey: KeyObject, wrapping: Wrapping, data: Buffer): Buffer {
  return publicEncrypt(
    {
      key: publicKey,
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: wrapping === 'RSAES-OAEP-SHA1' ? 'sha1' : 'sha256',
    },
    data,
  );
}

// Branch-free byte helpers. JavaScript gives no hard constant-time guarantee, but the check
// below has no data-dependent early exit, so which rule failed does not show in its timing.
const isZero = (x: number): number => ((x - 1) >>> 31) & 1; // x in 0..255
const eqByte = (a: number, b: number): number => isZero((a ^ b) & 0xff);
const geInt = (a: number, b: number): number => (((a - b) >>> 31) & 1) ^ 1; // small non-negative ints
const select = (mask: number, a: number, b: number): number => b ^ ((a ^ b) & -mask);

/**
 * EME-PKCS1-v1_5 decoding (RFC 8017 7.2.2) of a raw RSA result `em` of modulus length k:
 * 0x00 0x02 PS(>= 8 nonzero bytes) 0x00 M. Done here because Node 20 refuses privateDecrypt
 * with RSA_PKCS1_PADDING since CVE-2023-46809 (and "implicit rejection" would hand back random
 * bytes instead of a failure, which the contract forbids).
 */
export function decodePkcs1v15(em: Buffer, k: number): Buffer | null {
  if (em.length !== k || k < 11) return null; // lengths are public
  let good = eqByte(em[0]!, 0x00) & eqByte(em[1]!, 0x02);
  let zeroIndex = 0;
  let searching = 1;
  for (let i = 2; i < k; i++) {
    const z = isZero(em[i]!);
    zeroIndex = select(searching & z, i, zeroIndex);
    searching &= z ^ 1;
  }
  good &= searching ^ 1;
  good &= geInt(zeroIndex, 10); // PS spans em[2..zeroIndex-1]: at least 8 bytes
  if (good !== 1) return null;
  return em.subarray(zeroIndex + 1);
}

/** One client-side encrypted field; null for every kind of failure alike. */
export function decryptField(
  privateKey: KeyObject,
  padding: FieldPadding,
  ciphertext: Buffer,
): Buffer | null {
  const k = (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
  if (ciphertext.length !== k) return null;
  try {
    if (padding === 'RSAES-OAEP-SHA256') {
      return privateDecrypt(
        { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        ciphertext,
      );
    }
    const em = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ciphertext);
    return decodePkcs1v15(em, k);
  } catch {
    // Integer >= modulus, OAEP check failed: the same generic failure.
    return null;
  }
}
