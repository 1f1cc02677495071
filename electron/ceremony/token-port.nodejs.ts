import { MkmError, toErrorShape } from '../../shared/errors.std';
import type { TokensService } from '../hsm/tokens.nodejs';
import type { CeremonyTokenPort } from './ceremony-service.nodejs';
import type { CoreStepPorts } from './core-steps.nodejs';

/**
 * What the ceremony engine asks of the token, over the token service every domain uses: who the
 * token is, its signing key, a signature, and removing a half-made object.
 */
export function ceremonyTokenPort(
  tokens: TokensService,
): CeremonyTokenPort & Pick<CoreStepPorts, 'token' | 'kcvs'> {
  const tokenOf = async (slotId: number) => {
    const slot = (await tokens.slots()).find((s) => s.slotId === slotId);
    if (!slot?.token) throw new MkmError('TOKEN_NOT_PRESENT', undefined, { slotId });
    return slot.token;
  };
  return {
    describe: async (slotId) => {
      const t = await tokenOf(slotId);
      return {
        serial: t.serial.trim(),
        model: t.model.trim(),
        manufacturer: t.manufacturer.trim(),
        label: t.label.trim(),
      };
    },
    token: async (slotId) => {
      const t = await tokenOf(slotId);
      return { serial: t.serial.trim(), model: t.model.trim(), firmware: t.firmware };
    },
    signingKey: async (slotId, keyId) => {
      const objects = await tokens.call('listObjects', { slotId });
      const key = objects.find((o) => o.id === keyId && o.class === 'private');
      if (!key)
        throw new MkmError('KEY_NOT_FOUND', `No private key with id ${keyId} on the token.`, { keyId });
      // A transcript signer signs and does nothing else, like an exchange-package signer.
      if (key.keyType !== 'rsa' || [...key.usages].sort().join(',') !== 'sign') {
        throw new MkmError(
          'KEY_NOT_PERMITTED',
          `“${key.label}” is not a signing key. Make one with: mkm keys generate --type rsa-3072 --purpose signing --label LABEL`,
          { keyId },
        );
      }
      const pub = await tokens.call('exportPublicKey', { slotId, id: keyId, format: 'pem' });
      return { label: key.label, spkiPem: pub.pem!, spkiSha256: pub.spkiSha256 };
    },
    sign: async (slotId, keyId, data) => {
      try {
        const { signature } = await tokens.call('sign', {
          slotId,
          id: keyId,
          mechanism: 'SHA256_RSA_PKCS_PSS',
          data: data.toString('base64'),
        });
        return { alg: 'RSASSA-PSS-SHA256' as const, value: signature };
      } catch (error) {
        if (toErrorShape(error).code !== 'MECHANISM_UNSUPPORTED') throw error;
        const { signature } = await tokens.call('sign', {
          slotId,
          id: keyId,
          mechanism: 'SHA256_RSA_PKCS',
          data: data.toString('base64'),
        });
        return { alg: 'RSASSA-PKCS1-v1_5-SHA256' as const, value: signature };
      }
    },
    destroy: async (slotId, keyId) => {
      const objects = await tokens.call('listObjects', { slotId });
      for (const o of objects.filter((x) => x.id === keyId)) {
        await tokens.call('destroyObject', { slotId, id: keyId, class: o.class, confirm: true });
      }
    },
    kcvs: async (slotId, keyIds) => {
      const out: Record<string, string> = {};
      for (const id of keyIds) out[id] = (await tokens.call('kcv', { slotId, id })).kcv;
      return out;
    },
  };
}
