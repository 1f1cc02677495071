// The memory baseline: a bare Node process (no tsx, no mkm code) that loads pkcs11js, lists
// every object on the token with its attributes, and prints its own resident set.
// Args: <module path> <slot id> <user pin>
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const pkcs11js = createRequire(import.meta.url)('pkcs11js');
const [modulePath, slot, pin] = process.argv.slice(2);
const P = pkcs11js;

// The attributes mkm reads for each class (electron/hsm/pkcs11/objects.host.ts).
const COMMON = [P.CKA_CLASS, P.CKA_ID, P.CKA_LABEL, P.CKA_TOKEN, P.CKA_PRIVATE];
const KEY = [P.CKA_KEY_TYPE, P.CKA_LOCAL, P.CKA_DERIVE];
const PROTECTED = [P.CKA_SENSITIVE, P.CKA_EXTRACTABLE, P.CKA_ALWAYS_SENSITIVE, P.CKA_NEVER_EXTRACTABLE];
const BY_CLASS = new Map([
  [
    P.CKO_SECRET_KEY,
    [
      ...COMMON,
      ...KEY,
      ...PROTECTED,
      P.CKA_ENCRYPT,
      P.CKA_DECRYPT,
      P.CKA_WRAP,
      P.CKA_UNWRAP,
      P.CKA_SIGN,
      P.CKA_VERIFY,
      P.CKA_VALUE_LEN,
    ],
  ],
  // Data objects have no CKA_ID (SoftHSM2 refuses it with CKR_ATTRIBUTE_TYPE_INVALID).
  [P.CKO_DATA, [P.CKA_CLASS, P.CKA_LABEL, P.CKA_TOKEN, P.CKA_PRIVATE, P.CKA_APPLICATION]],
]);

const pkcs11 = new P.PKCS11();
pkcs11.load(modulePath);
pkcs11.C_Initialize();
const slotHandle = pkcs11.C_GetSlotList(true).find((s) => s.readBigUInt64LE(0) === BigInt(slot));
const session = pkcs11.C_OpenSession(slotHandle, P.CKF_SERIAL_SESSION);
pkcs11.C_Login(session, P.CKU_USER, pin);
pkcs11.C_FindObjectsInit(session, []);
const handles = [];
for (let batch; (batch = pkcs11.C_FindObjects(session, 1000)).length;) handles.push(...batch);
pkcs11.C_FindObjectsFinal(session);
const objects = handles.map((handle) => {
  const [cls] = pkcs11.C_GetAttributeValue(session, handle, [{ type: P.CKA_CLASS }]);
  const types = BY_CLASS.get(cls.value.readUInt32LE(0)) ?? COMMON;
  return {
    handle,
    attributes: pkcs11.C_GetAttributeValue(
      session,
      handle,
      types.map((type) => ({ type })),
    ),
  };
});
const rss = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
process.stdout.write(JSON.stringify({ count: objects.length, rssKiB: rss }) + '\n');
pkcs11.C_Logout(session);
pkcs11.C_Finalize();
