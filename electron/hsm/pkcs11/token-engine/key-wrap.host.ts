import { MkmError } from '../../../../shared/errors.std';
import {
  type UnwrapKeyParams,
  type UnwrapKeyResult,
  type WrapKeyParams,
  type WrapResult,
} from '../../../../shared/tokens.std';
import { toMkmError } from '../ckr.std';
import { CKM_AES_KEY_WRAP_KWP, isRsaMechanism, wrapMechanism } from '../mechanisms.host';
import { readAttribute } from '../objects.host';
import { pkcs11js, readBool, readUlong, toTemplate, type Handle, type Template } from '../pkcs11.host';
import { checkWrapTrust, secretKeyTemplate, unwrapPurpose } from '../templates.std';
import { unwrapRefusal } from './errors.std';
import { b64, kcvOrDestroy, RSA_OUT, rsaRoom } from './key-reads.host';
import { safely, type SessionPool } from './session-pool.host';

const P = pkcs11js;

/** Wrapping a key out of the token and unwrapping one into it. */
export class KeyWrap {
  constructor(private readonly pool: SessionPool) {}

  async wrapKey(params: WrapKeyParams): Promise<WrapResult> {
    const { slotId, wrappingKeyId, keyId, mechanism } = params;
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    const wrapping = this.pool.findOne(slotId, wrappingKeyId, [
      isRsaMechanism(mechanism) ? 'public' : 'secret',
    ]);
    const target = this.pool.findOne(slotId, keyId, ['secret']);
    const flag = (handle: Handle, type: number) => {
      try {
        return readBool(readAttribute(pkcs11, session.handle, handle, type));
      } catch {
        return null; // a token that does not know the attribute
      }
    };
    checkWrapTrust({
      wrapWithTrusted: flag(target.handle, P.CKA_WRAP_WITH_TRUSTED),
      trusted: flag(wrapping.handle, P.CKA_TRUSTED),
      keyId,
      wrappingKeyId,
    });
    const wrapped = this.pool.callWith(slotId, mechanism, () =>
      pkcs11.C_WrapKey(
        session.handle,
        wrapMechanism(mechanism, this.kwpMechanism(slotId)),
        wrapping.handle,
        target.handle,
        Buffer.alloc(isRsaMechanism(mechanism) ? rsaRoom(this.pool, slotId, wrapping.handle) : RSA_OUT),
      ),
    );
    this.pool.logger.info('Key wrapped', { slotId, wrappingKeyId, keyId, mechanism });
    return { wrapped: wrapped.toString('base64') };
  }

  async unwrapKey(params: UnwrapKeyParams): Promise<UnwrapKeyResult> {
    const p = params;
    const pkcs11 = this.pool.module();
    const session = this.pool.session(p.slotId);
    const unwrapping = this.pool.findOne(p.slotId, p.unwrappingKeyId, [
      isRsaMechanism(p.mechanism) ? 'private' : 'secret',
    ]);
    const id = p.id !== undefined ? Buffer.from(p.id, 'hex') : this.pool.randomId(p.slotId);
    const template: Template = [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: p.keyType === 'aes-256' ? P.CKK_AES : P.CKK_GENERIC_SECRET },
      { type: P.CKA_LABEL, value: p.label },
      { type: P.CKA_ID, value: id },
      ...toTemplate(secretKeyTemplate(p.keyType, unwrapPurpose(p.keyType), { token: p.token })),
    ];
    let handle: Handle;
    try {
      handle = this.pool.callWith(p.slotId, p.mechanism, () =>
        pkcs11.C_UnwrapKey(
          session.handle,
          wrapMechanism(p.mechanism, this.kwpMechanism(p.slotId)),
          unwrapping.handle,
          b64(p.wrapped),
          template,
        ),
      );
    } catch (error) {
      throw unwrapRefusal(toMkmError(error));
    }
    // The contract's keys are 32 bytes. CKA_VALUE_LEN cannot go in the unwrap template (SoftHSM2
    // and others refuse it there), so the length is checked afterwards where the token reports
    // it; SoftHSM2 2.6 reports 0 for unwrapped keys, and then the caller's KCV check is the guard.
    let length: number | null;
    try {
      length = this.pool.call(p.slotId, () =>
        readUlong(readAttribute(pkcs11, session.handle, handle, P.CKA_VALUE_LEN)),
      );
    } catch (error) {
      // The key is in the token but the caller will never learn its id: it must not stay there.
      safely(() => pkcs11.C_DestroyObject(session.handle, handle));
      throw error;
    }
    if (length !== null && length !== 0 && length !== 32) {
      safely(() => pkcs11.C_DestroyObject(session.handle, handle));
      throw new MkmError('KEY_UNWRAPPABLE', 'The unwrapped key is not 32 bytes long.', { length });
    }
    const kcv = kcvOrDestroy(this.pool, p.slotId, handle, p.keyType);
    this.pool.logger.info('Key unwrapped', {
      slotId: p.slotId,
      keyId: id.toString('hex'),
      mechanism: p.mechanism,
      token: p.token,
      kcv: kcv.kcv,
    });
    return { id: id.toString('hex'), keyType: p.keyType, token: p.token, ...kcv };
  }

  /**
   * AES key wrap with padding (RFC 5649): what the last probe found, else CKM_AES_KEY_WRAP_KWP
   * when the token lists it (NSS's CKM_AES_KEY_WRAP_PAD pads otherwise), else
   * CKM_AES_KEY_WRAP_PAD (SoftHSM2 and openCryptoki, where it is RFC 5649).
   */
  private kwpMechanism(slotId: number): number {
    const probed = this.pool.kwp.get(slotId);
    if (probed !== undefined) return probed;
    try {
      if (
        this.pool.module().C_GetMechanismList(this.pool.slotHandle(slotId)).includes(CKM_AES_KEY_WRAP_KWP)
      ) {
        return CKM_AES_KEY_WRAP_KWP;
      }
    } catch {
      // No list: the 2.40 mechanism.
    }
    return P.CKM_AES_KEY_WRAP_PAD;
  }
}
