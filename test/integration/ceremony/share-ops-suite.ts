import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kcv } from '../../../electron/crypto/kcv.nodejs';
import { handleToNumber, pkcs11js as P } from '../../../electron/hsm/pkcs11/pkcs11.host';
import type { TokenEngine } from '../../../electron/hsm/pkcs11/token-engine.host';
import { shareChunks, shareFromWire, shareToWire } from '../../../shared/ceremony/share-ops.std';
import type { ComponentKeyType } from '../../../shared/formats/components.std';
import { hostTokenService } from '../../helpers/host-token-engine';
import type { SuiteToken } from './component-ops-suite';

/**
 * The share ops of the token host on one token, for each KEK type that takes other paths: an
 * AES-128 and a 3-key TDES KEK split 2-of-3, every share revealed once, recovered from two into
 * the same token under a new id with the same check values. Where the token has no AES key wrap
 * (openCryptoki's swtok) the KEK leaves by AES-CBC-PAD under the host's session key.
 */

const KEKS: { id: string; type: ComponentKeyType; ckk: number; value: string }[] = [
  { id: 'a128', type: 'aes-128', ckk: P.CKK_AES, value: '3f419e1cb7079442aa37474c2efbf8b8' },
  {
    id: 'de53',
    type: 'tdes-3key',
    ckk: P.CKK_DES3,
    value: '0123456789abcdeffedcba987654321089abcdef01234567',
  },
];

/** Extractable KEKs, which mkm never makes itself: with the module, before the engine loads it. */
function seed(token: SuiteToken): void {
  const pkcs11 = new P.PKCS11();
  pkcs11.load(token.modulePath);
  pkcs11.C_Initialize();
  try {
    const slot = pkcs11.C_GetSlotList(true).find((s) => handleToNumber(s) === token.slotId)!;
    const session = pkcs11.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
    pkcs11.C_Login(session, P.CKU_USER, token.userPin);
    for (const k of KEKS) {
      pkcs11.C_CreateObject(session, [
        { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
        { type: P.CKA_KEY_TYPE, value: k.ckk },
        { type: P.CKA_TOKEN, value: true },
        { type: P.CKA_PRIVATE, value: true },
        { type: P.CKA_SENSITIVE, value: true },
        { type: P.CKA_EXTRACTABLE, value: true },
        { type: P.CKA_WRAP, value: true },
        { type: P.CKA_UNWRAP, value: true },
        { type: P.CKA_ID, value: Buffer.from(k.id, 'hex') },
        { type: P.CKA_LABEL, value: `seed ${k.type}` },
        { type: P.CKA_VALUE, value: Buffer.from(k.value, 'hex') },
      ]);
    }
    pkcs11.C_Logout(session);
    pkcs11.C_CloseSession(session);
  } finally {
    pkcs11.C_Finalize();
  }
}

export function shareOpsSuite(make: () => Promise<SuiteToken>): void {
  let token: SuiteToken;
  let svc: TokenEngine;

  beforeAll(async () => {
    token = await make();
    seed(token);
    svc = hostTokenService();
    await svc.loadModule({ path: token.modulePath });
    await svc.login({ slotId: token.slotId, pin: token.userPin });
  }, 180_000);
  afterAll(async () => {
    await svc?.unloadModule();
    await token?.stop();
  });

  describe.each(KEKS)('a $type KEK', (k) => {
    it('is split 2-of-3, each share revealed once, and recovered from two with the same check values', async () => {
      const slotId = token.slotId;
      const key = Uint8Array.from(Buffer.from(k.value, 'hex'));
      const transport = await svc.ceremonyTransportKey({ slotId });
      const { record } = await svc.shareSplitKek({
        slotId,
        transportKeyId: transport.transportKeyId,
        keyId: k.id,
        threshold: 2,
        count: 3,
        ceremonyId: 'suite',
      });
      expect(record.key).toMatchObject({
        keyType: k.type,
        kcvs: [
          { method: 'legacy', kcv: kcv(k.type, key, 'legacy').kcv },
          { method: 'cmac', kcv: kcv(k.type, key, 'cmac').kcv },
        ],
      });
      const eph = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const entered: string[][] = [];
      for (const index of [1, 2, 3]) {
        const out = await svc.shareReveal({
          slotId,
          transportKeyId: transport.transportKeyId,
          backupId: record.backup.backupId,
          index,
          revealKey: eph.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        });
        const wire = Buffer.concat(
          out.ciphertexts.map((c) =>
            privateDecrypt(
              { key: eph.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
              Buffer.from(c, 'base64'),
            ),
          ),
        );
        const share = shareFromWire(Uint8Array.from(wire))!;
        expect(share.index).toBe(index);
        if (index !== 2) {
          entered.push(
            shareChunks(shareToWire(share)).map((chunk) =>
              publicEncrypt(
                { key: transport.spkiPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
                chunk,
              ).toString('base64'),
            ),
          );
        }
      }
      const id = `${k.id}0f`;
      const recovered = await svc.shareRecoverKek({
        slotId,
        transportKeyId: transport.transportKeyId,
        record,
        shares: entered,
        label: `recovered ${k.type}`,
        id,
      });
      expect(recovered.kcvs.map((x) => x.kcv)).toEqual(record.key.kcvs.map((x) => x.kcv));
      expect(recovered.tokenKcv).toBe(kcv(k.type, key, 'legacy').kcv);
      const obj = await svc.getObject({ slotId, id, class: 'secret' });
      expect(obj).toMatchObject({ sensitive: true, extractable: false });
      await svc.ceremonyDropTransportKey({ slotId, transportKeyId: transport.transportKeyId });
    }, 120_000);
  });
}
