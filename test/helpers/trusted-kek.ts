import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { SoftHsmToken } from './softhsm';

/**
 * What a security officer does to let keys with CKA_WRAP_WITH_TRUSTED leave a token: make a
 * wrap-only AES KEK with CKA_TRUSTED = true. Only the SO may set CKA_TRUSTED, and SoftHSM2 lets
 * an SO session make public objects only (CKA_PRIVATE false: CKR_USER_NOT_LOGGED_IN otherwise),
 * so the KEK is a public, sensitive, non-extractable token object. It runs in a process of its
 * own, as the SO's tool would: this process may hold a user login on the same token.
 */
export function createTrustedKek(
  hsm: Pick<SoftHsmToken, 'modulePath' | 'env' | 'soPin'> & { libraryParameters?: string },
  slotId: number,
  options: { idHex: string; label: string; value: Buffer },
): void {
  const script = `
    const P = require(${JSON.stringify(join(import.meta.dirname, '../../node_modules/pkcs11js'))});
    const [modulePath, slotHex, soPin, idHex, label, valueHex, libraryParameters] = process.argv.slice(1);
    const m = new P.PKCS11();
    m.load(modulePath);
    m.C_Initialize(libraryParameters ? { libraryParameters } : undefined);
    try {
      const slot = m.C_GetSlotList(true).find((s) => s.readBigUInt64LE(0) === BigInt(slotHex));
      const s = m.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
      m.C_Login(s, P.CKU_SO, soPin);
      m.C_CreateObject(s, [
        { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
        { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
        { type: P.CKA_VALUE, value: Buffer.from(valueHex, 'hex') },
        { type: P.CKA_ID, value: Buffer.from(idHex, 'hex') },
        { type: P.CKA_LABEL, value: label },
        { type: P.CKA_TOKEN, value: true },
        { type: P.CKA_PRIVATE, value: false },
        { type: P.CKA_SENSITIVE, value: true },
        { type: P.CKA_EXTRACTABLE, value: false },
        { type: P.CKA_ENCRYPT, value: false },
        { type: P.CKA_DECRYPT, value: false },
        { type: P.CKA_WRAP, value: true },
        { type: P.CKA_UNWRAP, value: false },
        { type: P.CKA_SIGN, value: false },
        { type: P.CKA_VERIFY, value: false },
        { type: P.CKA_TRUSTED, value: true },
      ]);
      m.C_Logout(s);
    } finally {
      m.C_Finalize();
    }
  `;
  execFileSync(
    process.execPath,
    [
      '-e',
      script,
      hsm.modulePath,
      String(slotId),
      hsm.soPin,
      options.idHex,
      options.label,
      options.value.toString('hex'),
      hsm.libraryParameters ?? '',
    ],
    { env: hsm.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
}
