// Usage: SOFTHSM2_CONF=... MKM_SEED_MODULE=... MKM_SEED_PIN=... node destroy-by-label.mjs LABEL
// Destroys every token object labelled LABEL on the first initialized token, from a process of
// its own: what another program (or a careless admin) does to the token behind the app's back.
import pkcs11js from 'pkcs11js';
import { withUserSession } from './pkcs11-session.mjs';

const label = process.argv[2];
withUserSession((p, session) => {
  p.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: label }]);
  const found = p.C_FindObjects(session, 100);
  p.C_FindObjectsFinal(session);
  for (const handle of found) p.C_DestroyObject(session, handle);
  process.stdout.write(`${found.length}\n`);
});
