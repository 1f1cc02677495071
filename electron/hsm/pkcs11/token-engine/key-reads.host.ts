import { MkmError } from '../../../../shared/errors.std';
import {
  type CipherMechanism,
  type KcvResult,
  type ObjectClass,
  type ObjectInfo,
  type SecretKeyType,
} from '../../../../shared/tokens.std';
import { toMkmError } from '../ckr.std';
import { CMAC, HMAC_SHA256, isRsaMechanism } from '../mechanisms.host';
import { HMAC_SHA256_KEY_TYPES, readAttribute } from '../objects.host';
import { pkcs11js, type Handle } from '../pkcs11.host';
import { rsaPublicFromComponents, type RsaPublic } from '../spki.nodejs';
import { TOKEN_STATE_CODES } from './errors.std';
import { safely, type SessionPool } from './session-pool.host';

const P = pkcs11js;
export const ZERO_BLOCK = Buffer.alloc(16);
/**
 * EMPTY_INPUT: pkcs11js passes a NULL pointer for an empty Buffer; SoftHSM2 answers a one-shot
 * C_Encrypt/C_Sign with it by CKR_ARGUMENTS_BAD and, against the spec, leaves the operation
 * active, which blocks the session. An empty message (valid for CBC-PAD and HMAC) therefore
 * goes through the multi-part *Final call, which needs no data pointer.
 */
/** Room for any RSA block up to 8192 bits. */
export const RSA_OUT = 1024;

export const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

// What the operations read of the keys they name: public parts, output room, check values.

/**
 * Output room for an RSA result: exactly the modulus length. tpm2-pkcs11 reports the whole
 * buffer it was given as the ciphertext's length, so a larger buffer yields a broken answer.
 */
export function rsaRoom(pool: SessionPool, slotId: number, handle: Handle): number {
  const pkcs11 = pool.module();
  const session = pool.session(slotId);
  try {
    const modulus = readAttribute(pkcs11, session.handle, handle, P.CKA_MODULUS);
    if (modulus?.length) return modulus.length;
  } catch {
    // Unreadable modulus: room for any size.
  }
  return RSA_OUT;
}

export function rsaPublic(pool: SessionPool, slotId: number, handle: Handle): RsaPublic {
  const pkcs11 = pool.module();
  const session = pool.session(slotId);
  const [modulus, exponent] = pool.call(slotId, () => [
    readAttribute(pkcs11, session.handle, handle, P.CKA_MODULUS),
    readAttribute(pkcs11, session.handle, handle, P.CKA_PUBLIC_EXPONENT),
  ]);
  if (!modulus?.length || !exponent?.length) {
    throw new MkmError('KEY_TYPE_INCONSISTENT', 'This is not an RSA key with a readable public part.');
  }
  return rsaPublicFromComponents(modulus, exponent);
}

/**
 * Unwrapped and imported keys are only trusted after their KCV is compared, so a key whose KCV
 * the token cannot compute is removed again rather than left unverified.
 */
export function kcvOrDestroy(
  pool: SessionPool,
  slotId: number,
  handle: Handle,
  type: SecretKeyType,
): KcvResult {
  try {
    return kcvOf(pool, slotId, handle, type);
  } catch (error) {
    const pkcs11 = pool.module();
    const session = pool.session(slotId);
    safely(() => pkcs11.C_DestroyObject(session.handle, handle));
    const e = toMkmError(error);
    // A token that failed, went away or dropped the session is not one that lacks the
    // mechanism: the admin must hear what really happened.
    if (TOKEN_STATE_CODES.has(e.code)) throw e;
    throw new MkmError(
      'CAPABILITY_MISSING',
      'The token cannot compute the key check value, so the key was not kept.',
      {
        ...e.details,
        cause: e.code,
      },
    );
  }
}

export function kcvOf(pool: SessionPool, slotId: number, handle: Handle, type: SecretKeyType): KcvResult {
  const pkcs11 = pool.module();
  const session = pool.session(slotId);
  const mac = pool.call(slotId, () => {
    pkcs11.C_SignInit(session.handle, type === 'aes-256' ? CMAC : HMAC_SHA256, handle);
    return pkcs11.C_Sign(session.handle, ZERO_BLOCK, Buffer.alloc(64));
  });
  return { kcv: mac.subarray(0, 3).toString('hex'), method: type === 'aes-256' ? 'cmac' : 'hmac' };
}

export function keyClassFor(mechanism: CipherMechanism, op: 'encrypt' | 'decrypt'): ObjectClass {
  if (!isRsaMechanism(mechanism)) return 'secret';
  return op === 'encrypt' ? 'public' : 'private';
}

export function secretTypeOf(info: ObjectInfo): SecretKeyType {
  if (info.keyType === 'aes') return 'aes-256';
  if (info.keyType !== null && HMAC_SHA256_KEY_TYPES.includes(info.keyType)) return 'hmac-256';
  throw new MkmError('KEY_TYPE_INCONSISTENT', 'Only AES and HMAC-SHA256 keys have a check value here.', {
    keyType: info.keyType,
  });
}
