import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenEngine } from '../../../electron/hsm/pkcs11/token-engine.host';
import { pkcs11js } from '../../../electron/hsm/pkcs11/pkcs11.host';
import { failure } from '../../helpers/failure';
import { hostTokenService } from '../../helpers/host-token-engine';
import { TR31_2018_A_7_2_2, TR31_2018_A_7_4 } from '../../unit/formats/tr31-vectors';
import { componentsOf, encryptTo, type SuiteToken } from './component-ops-suite';
import { openCryptokiSuiteToken } from './suite-tokens';

const P = pkcs11js;

/**
 * openCryptoki's swtok offers neither CKM_AES_CMAC nor CKM_DES3_CMAC (its mechanism list, read
 * here), so the PRF of the block keys cannot run on it: key blocks are refused there, naming the
 * mechanism, and the KBPK is never used in software instead.
 */
describe('TR-31 key blocks on openCryptoki (swtok): refused, the token lacking CMAC', () => {
  let token: SuiteToken;
  let svc: TokenEngine;
  let kbpk: { aes: string; tdes: string };

  beforeAll(async () => {
    token = await openCryptokiSuiteToken('mkm-tr31');
    svc = hostTokenService();
    await svc.loadModule({ path: token.modulePath });
    await svc.login({ slotId: token.slotId, pin: token.userPin });
    const transport = await svc.ceremonyTransportKey({ slotId: token.slotId });
    const form = async (id: string, keyType: 'aes-256' | 'tdes-2key', keyHex: string) => {
      const firsts = [Buffer.alloc(keyHex.length / 2, 0x5a).toString('hex')];
      await svc.formKeyFromComponents({
        slotId: token.slotId,
        transportKeyId: transport.transportKeyId,
        keyType,
        ciphertexts: componentsOf(keyType, keyHex, firsts).map((c) => encryptTo(transport.spkiPem, c)),
        label: `kbpk ${id}`,
        id,
        purpose: 'kbpk',
      });
      return id;
    };
    kbpk = {
      aes: await form('7531aa01', 'aes-256', TR31_2018_A_7_4.kbpk),
      tdes: await form('7531aa02', 'tdes-2key', TR31_2018_A_7_2_2.kbpk),
    };
  }, 180_000);
  afterAll(async () => {
    await svc?.unloadModule();
    await token?.stop();
  });

  it('its mechanism list has no CMAC', () => {
    const raw = svc._raw(token.slotId);
    const slot = raw.pkcs11.C_GetSessionInfo(raw.session).slotID;
    const list = raw.pkcs11.C_GetMechanismList(slot);
    expect(list).not.toContain(P.CKM_AES_CMAC);
    expect(list).not.toContain(P.CKM_DES3_CMAC);
  });

  it.each([
    ['version D under an AES KBPK', 'CKM_AES_CMAC', TR31_2018_A_7_4.block, 'aes' as const],
    ['version B under a TDES KBPK', 'CKM_DES3_CMAC', TR31_2018_A_7_2_2.block, 'tdes' as const],
  ])(
    'import of a %s is refused naming %s, nothing left on the token',
    async (_what, mechanism, block, family) => {
      const before = await svc.listObjects({ slotId: token.slotId, class: 'secret' });
      const e = await failure(
        svc.tr31Import({
          slotId: token.slotId,
          kbpkId: kbpk[family],
          kbpkType: family === 'aes' ? 'aes-256' : 'tdes-2key',
          block,
          label: 'refused',
        }),
      );
      expect(e.code).toBe('TR31_TOKEN_LACKS_MECHANISM');
      expect(e.details).toMatchObject({ mechanism });
      expect(await svc.listObjects({ slotId: token.slotId, class: 'secret' })).toEqual(before);
    },
  );
});
