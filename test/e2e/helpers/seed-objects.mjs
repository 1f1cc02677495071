// Usage: SOFTHSM2_CONF=... MKM_SEED_MODULE=... MKM_SEED_PIN=... node seed-objects.mjs COUNT
// Creates COUNT AES-256 secret-key token objects on the first initialized token, labelled
// "bulk 00000"..., with CKA_ID = the index as 4 bytes. One session, one login, C_CreateObject each.
import { randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { withUserSession } from './pkcs11-session.mjs';

const count = Number(process.argv[2] ?? '10000');
withUserSession((p, session) => {
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
});
