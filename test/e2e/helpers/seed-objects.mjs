// Usage: SOFTHSM2_CONF=... MKM_SEED_MODULE=... MKM_SEED_PIN=... node seed-objects.mjs COUNT
// Creates COUNT AES-256 secret-key token objects on the first initialized token, labelled
// "bulk 00000"..., with CKA_ID = the index as 4 bytes. One session, one login, C_CreateObject each.
import { randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';

const count = Number(process.argv[2] ?? '10000');
const p = new pkcs11js.PKCS11();
p.load(process.env.MKM_SEED_MODULE);
p.C_Initialize();
try {
  const slot = p
    .C_GetSlotList(true)
    .find((s) => (p.C_GetTokenInfo(s).flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0);
  const session = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  p.C_Login(session, pkcs11js.CKU_USER, process.env.MKM_SEED_PIN);
  for (let i = 0; i < count; i++) {
    const id = Buffer.alloc(4);
    id.writeUInt32BE(i);
    p.C_CreateObject(session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_ENCRYPT, value: true },
      { type: pkcs11js.CKA_DECRYPT, value: true },
      { type: pkcs11js.CKA_VALUE, value: randomBytes(32) },
      { type: pkcs11js.CKA_ID, value: id },
      { type: pkcs11js.CKA_LABEL, value: `bulk ${String(i).padStart(5, '0')}` },
    ]);
  }
  p.C_Logout(session);
  p.C_CloseSession(session);
} finally {
  p.C_Finalize();
}
