import { constants, createVerify } from 'node:crypto';
import { MkmError } from '../../../../shared/errors.std';
import {
  type CipherMechanism,
  type CipherParams,
  type DataResult,
  type HmacSignParams,
  type HmacVerifyParams,
  type MacResult,
  type SignatureResult,
  type SignParams,
  type VerifyResult,
} from '../../../../shared/tokens.std';
import { CKR_MEANS, toMkmError } from '../ckr.std';
import {
  cipherMechanism,
  CMAC,
  HMAC_SHA256,
  isRsaMechanism,
  SHA256_RSA_PKCS,
  SHA256_RSA_PSS,
} from '../mechanisms.host';
import { b64, keyClassFor, RSA_OUT, rsaPublic, rsaRoom } from './key-reads.host';
import type { SessionPool } from './session-pool.host';

/** Encryption, decryption, MACs and RSA signatures with a key the token holds. */
export class Ciphers {
  constructor(private readonly pool: SessionPool) {}

  async encrypt(params: CipherParams): Promise<DataResult> {
    const p = params;
    return {
      data: this.cipher('encrypt', p.slotId, p.id, p.mechanism, p.iv, b64(p.data)).toString('base64'),
    };
  }

  async decrypt(params: CipherParams): Promise<DataResult> {
    const p = params;
    return {
      data: this.cipher('decrypt', p.slotId, p.id, p.mechanism, p.iv, b64(p.data)).toString('base64'),
    };
  }

  async hmacSign(params: HmacSignParams): Promise<MacResult> {
    const { slotId, id, data, mechanism } = params;
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    const key = this.pool.findOne(slotId, id, ['secret']);
    const input = b64(data);
    const mac = this.pool.call(slotId, () => {
      pkcs11.C_SignInit(session.handle, mechanism === 'AES_CMAC' ? CMAC : HMAC_SHA256, key.handle);
      // Empty input: see EMPTY_INPUT.
      if (input.length === 0) return pkcs11.C_SignFinal(session.handle, Buffer.alloc(64));
      return pkcs11.C_Sign(session.handle, input, Buffer.alloc(64));
    });
    return { mac: mac.toString('base64') };
  }

  async hmacVerify(params: HmacVerifyParams): Promise<VerifyResult> {
    const { slotId, id, data, mac } = params;
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    const key = this.pool.findOne(slotId, id, ['secret']);
    const input = b64(data);
    const given = b64(mac);
    if (given.length === 0) return { valid: false };
    this.pool.call(slotId, () => pkcs11.C_VerifyInit(session.handle, HMAC_SHA256, key.handle));
    try {
      // Empty input: see EMPTY_INPUT.
      if (input.length === 0) return { valid: pkcs11.C_VerifyFinal(session.handle, given) };
      pkcs11.C_Verify(session.handle, input, given);
      return { valid: true };
    } catch (error) {
      const e = this.pool.fail(error, slotId);
      if (e.code === 'SIGNATURE_INVALID') return { valid: false };
      throw e;
    }
  }

  /**
   * An RSA signature by a private key with CKA_SIGN. The token hashes the data itself; the result
   * is checked against the key's public half before it is returned, as for a CSR, so a token that
   * signs with another key (or a broken PSS) never yields a signature that does not verify.
   */
  async sign(params: SignParams): Promise<SignatureResult> {
    const { slotId, id, mechanism, data } = params;
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    const priv = this.pool.findOne(slotId, id, ['private']);
    if (priv.info.keyType !== 'rsa') {
      throw new MkmError('KEY_TYPE_INCONSISTENT', 'Only an RSA private key signs here.', {
        keyType: priv.info.keyType,
      });
    }
    if (!priv.info.usages.includes('sign')) {
      throw new MkmError('KEY_NOT_PERMITTED', 'This key is not a signing key (it has no sign usage).', {
        id,
      });
    }
    const pub = rsaPublic(this.pool, slotId, this.pool.tryFind(slotId, id, 'public')?.handle ?? priv.handle);
    const input = b64(data);
    const pss = mechanism === 'SHA256_RSA_PKCS_PSS';
    let signature: Buffer;
    try {
      signature = this.pool.call(slotId, () => {
        pkcs11.C_SignInit(session.handle, pss ? SHA256_RSA_PSS : SHA256_RSA_PKCS, priv.handle);
        // Empty input: see EMPTY_INPUT.
        if (input.length === 0) return Buffer.from(pkcs11.C_SignFinal(session.handle, Buffer.alloc(RSA_OUT)));
        return Buffer.from(pkcs11.C_Sign(session.handle, input, Buffer.alloc(RSA_OUT)));
      });
    } catch (error) {
      const e = toMkmError(error);
      const ckr = e.details?.ckr;
      if (CKR_MEANS.mechanismUnsupported(ckr) || CKR_MEANS.argumentsBad(ckr)) {
        throw new MkmError(
          'MECHANISM_UNSUPPORTED',
          `This token does not sign with ${pss ? 'RSASSA-PSS (SHA-256)' : 'RSA PKCS#1 v1.5 (SHA-256)'}.`,
          { ...e.details, mechanism },
        );
      }
      throw e;
    }
    const verifies = createVerify('sha256')
      .update(input)
      .verify(
        pss
          ? { key: pub.keyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
          : pub.keyObject,
        signature,
      );
    if (!verifies) {
      throw new MkmError(
        'SIGNATURE_INVALID',
        'The token made a signature that its public key does not verify.',
        {
          id,
          mechanism,
        },
      );
    }
    this.pool.logger.info('Data signed', { slotId, keyId: id, mechanism, bytes: input.length });
    return { signature: signature.toString('base64') };
  }

  private cipher(
    op: 'encrypt' | 'decrypt',
    slotId: number,
    id: string,
    mechanism: CipherMechanism,
    ivB64: string | undefined,
    data: Buffer,
  ): Buffer {
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    const key = this.pool.findOne(slotId, id, [keyClassFor(mechanism, op)]);
    const mech = cipherMechanism(mechanism, ivB64 === undefined ? undefined : b64(ivB64));
    const out = Buffer.alloc(
      op === 'encrypt' && isRsaMechanism(mechanism)
        ? rsaRoom(this.pool, slotId, key.handle)
        : Math.max(RSA_OUT, data.length + 16),
    );
    if (data.length === 0 && (op === 'decrypt' || isRsaMechanism(mechanism))) {
      throw new MkmError(
        op === 'decrypt' ? 'ENCRYPTED_DATA_INVALID' : 'DATA_LEN_RANGE',
        op === 'decrypt' ? 'There is no encrypted data.' : 'There is nothing to encrypt.',
      );
    }
    return this.pool.callWith(slotId, mechanism, () => {
      if (op === 'encrypt') {
        pkcs11.C_EncryptInit(session.handle, mech, key.handle);
        // Empty input: see EMPTY_INPUT.
        if (data.length === 0) return Buffer.from(pkcs11.C_EncryptFinal(session.handle, out));
        return Buffer.from(pkcs11.C_Encrypt(session.handle, data, out));
      }
      pkcs11.C_DecryptInit(session.handle, mech, key.handle);
      return Buffer.from(pkcs11.C_Decrypt(session.handle, data, out));
    });
  }
}
