import { createNssToken } from '../../helpers/nss';
import { acquireOpenCryptoki } from '../../helpers/opencryptoki';
import { createSoftHsmToken } from '../../helpers/softhsm';
import type { SuiteToken } from './component-ops-suite';

/** A fresh SoftHSM2 token. It does RSA-OAEP with SHA-1 only: OAEP-SHA-256 is decoded in the host. */
export async function softHsmSuiteToken(label: string): Promise<SuiteToken> {
  const hsm = createSoftHsmToken({ label });
  return {
    name: 'SoftHSM2',
    modulePath: hsm.modulePath,
    slotId: hsm.slotId,
    userPin: hsm.userPin,
    env: hsm.env,
    oaep: 'host',
    xor: 'host',
    stop: () => hsm.cleanup(),
  };
}

/** openCryptoki's swtok: one per machine, taken under the helper's lock and re-made (erased). */
export async function openCryptokiSuiteToken(label: string): Promise<SuiteToken> {
  const ock = await acquireOpenCryptoki();
  try {
    const token = await ock.remake(label);
    return {
      name: 'openCryptoki',
      modulePath: token.modulePath,
      slotId: token.slotId,
      userPin: token.userPin,
      env: process.env,
      oaep: 'token',
      xor: 'host',
      stop: () => ock.release(),
    };
  } catch (error) {
    ock.release();
    throw error;
  }
}

/**
 * NSS softokn's key store on a fresh database with a password (so it logs in like the others).
 * It decrypts RSA-OAEP-SHA-256 itself and XORs components itself (CKM_XOR_BASE_AND_DATA in
 * C_DeriveKey), though only its crypto services slot lists that mechanism.
 */
export async function nssSuiteToken(): Promise<SuiteToken> {
  const nss = createNssToken({ password: 'mkm-nss-ceremony' });
  return {
    name: 'NSS softokn',
    modulePath: nss.modulePath,
    libraryParameters: nss.libraryParameters,
    slotId: nss.slotId,
    userPin: nss.userPin!,
    env: process.env,
    oaep: 'token',
    xor: 'token',
    pkcs11Tool: false,
    stop: () => nss.cleanup(),
  };
}
