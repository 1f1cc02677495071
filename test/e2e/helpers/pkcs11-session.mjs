// A logged-in read-write session on the first initialized token of MKM_SEED_MODULE (SOFTHSM2_CONF
// must be in the environment), for helpers that act on the token from a process of their own.
import pkcs11js from 'pkcs11js';

export function withUserSession(work) {
  const p = new pkcs11js.PKCS11();
  p.load(process.env.MKM_SEED_MODULE);
  p.C_Initialize();
  try {
    const slot = p
      .C_GetSlotList(true)
      .find((s) => (p.C_GetTokenInfo(s).flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0);
    const session = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    p.C_Login(session, pkcs11js.CKU_USER, process.env.MKM_SEED_PIN);
    work(p, session);
    p.C_Logout(session);
    p.C_CloseSession(session);
  } finally {
    p.C_Finalize();
  }
}
