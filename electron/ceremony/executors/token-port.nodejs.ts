import { MkmError, toErrorShape } from '../../../shared/errors.std';
import type { ObjectClass } from '../../../shared/tokens.std';
import type { CeremonyTokenPort } from '../ceremony-service.nodejs';
import type { CoreStepPorts } from '../core-steps.nodejs';
import type { CeremonyComponentStore, TokenCaller } from './component-store.nodejs';

/**
 * The ceremony engine's view of the token, over the token host (`TokensService.call` in the app):
 * which token it is, the ceremony's signing key, signatures (RSASSA-PSS, else PKCS#1 v1.5 on a
 * token without PSS, as exchange packages do), and removal of objects a step left half-made.
 */
export function ceremonyTokenPort(
  tokens: TokenCaller,
  store?: CeremonyComponentStore,
): CeremonyTokenPort & Pick<CoreStepPorts, 'token' | 'kcvs'> {
  const tokenOf = async (slotId: number) => {
    const slot = (await tokens.call('listSlots', { tokenPresent: true })).find((s) => s.slotId === slotId);
    if (!slot?.token) throw new MkmError('TOKEN_NOT_PRESENT', undefined, { slotId });
    return slot.token;
  };
  return {
    async describe(slotId) {
      const t = await tokenOf(slotId);
      return { serial: t.serial, model: t.model, manufacturer: t.manufacturer, label: t.label };
    },

    async token(slotId) {
      const t = await tokenOf(slotId);
      return { serial: t.serial, model: t.model, firmware: t.firmware };
    },

    async kcvs(slotId, keyIds) {
      const out: Record<string, string> = {};
      for (const id of keyIds) out[id] = (await tokens.call('kcv', { slotId, id })).kcv;
      return out;
    },

    ...(store
      ? { transportKey: (ceremonyId: string, slotId: number) => store.transportKey(ceremonyId, slotId) }
      : {}),

    async signingKey(slotId, keyId) {
      const priv = await tokens.call('getObject', { slotId, id: keyId, class: 'private' });
      if (priv.keyType !== 'rsa' || !priv.usages.includes('sign')) {
        throw new MkmError('KEY_NOT_PERMITTED', 'The ceremony’s signing key must be an RSA key that signs.', {
          id: keyId,
        });
      }
      const pub = await tokens.call('exportPublicKey', { slotId, id: keyId, format: 'pem' });
      return { label: priv.label, spkiPem: pub.pem!, spkiSha256: pub.spkiSha256 };
    },

    async sign(slotId, keyId, data) {
      const b64 = data.toString('base64');
      try {
        const { signature } = await tokens.call('sign', {
          slotId,
          id: keyId,
          mechanism: 'SHA256_RSA_PKCS_PSS',
          data: b64,
        });
        return { alg: 'RSASSA-PSS-SHA256', value: signature };
      } catch (error) {
        if (toErrorShape(error).code !== 'MECHANISM_UNSUPPORTED') throw error;
      }
      const { signature } = await tokens.call('sign', {
        slotId,
        id: keyId,
        mechanism: 'SHA256_RSA_PKCS',
        data: b64,
      });
      return { alg: 'RSASSA-PKCS1-v1_5-SHA256', value: signature };
    },

    async destroy(slotId, keyId) {
      for (const cls of ['secret', 'private', 'public'] as ObjectClass[]) {
        try {
          await tokens.call('destroyObject', { slotId, id: keyId, class: cls, confirm: true });
        } catch (error) {
          if (toErrorShape(error).code !== 'KEY_NOT_FOUND') throw error;
        }
      }
    },
  };
}
