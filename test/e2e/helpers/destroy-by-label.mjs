// Usage: SOFTHSM2_CONF=... MKM_SEED_MODULE=... MKM_SEED_PIN=... node destroy-by-label.mjs LABEL
// Destroys every token object labelled LABEL on the first initialized token, from a process of
// its own: what another program (or a careless admin) does to the token behind the app's back.
import pkcs11js from 'pkcs11js';

const label = process.argv[2];
const p = new pkcs11js.PKCS11();
p.load(process.env.MKM_SEED_MODULE);
p.C_Initialize();
try {
  const slot = p
    .C_GetSlotList(true)
    .find((s) => (p.C_GetTokenInfo(s).flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0);
  const session = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  p.C_Login(session, pkcs11js.CKU_USER, process.env.MKM_SEED_PIN);
  p.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: label }]);
  const found = p.C_FindObjects(session, 100);
  p.C_FindObjectsFinal(session);
  for (const handle of found) p.C_DestroyObject(session, handle);
  process.stdout.write(`${found.length}\n`);
  p.C_Logout(session);
  p.C_CloseSession(session);
} finally {
  p.C_Finalize();
}
