import { readFileSync } from 'node:fs';
import { pkcs11js as P, readUlong, type Handle, type PKCS11 } from '../../electron/hsm/pkcs11/pkcs11.host';
import { filesUnder } from './scan';
import { SOFTHSM_MODULE } from './softhsm';

export interface RealObject {
  class: 'secret' | 'private' | 'public' | 'other';
  id: string;
  label: string;
  /** A token object (false: a session object of this listing's own session, never seen here). */
  token: boolean;
}

const CLASSES: Record<number, RealObject['class']> = {
  [P.CKO_SECRET_KEY]: 'secret',
  [P.CKO_PRIVATE_KEY]: 'private',
  [P.CKO_PUBLIC_KEY]: 'public',
};

/** pkcs11js names slots by handle (a CK_ULONG buffer); tests know them by number. */
export function slotHandle(lib: PKCS11, slotId: number): Handle {
  const handle = lib.C_GetSlotList(false).find((h) => readUlong(h) === slotId);
  if (!handle) throw new Error(`no slot ${slotId}`);
  return handle;
}

/**
 * Every object on the token, read straight through the real SoftHSM2 module in this process
 * (never the faulty module, never mkm's host), logged in as the user. Initialized and finalized
 * per call, so it sees what other processes wrote since.
 */
export function realTokenObjects(options: { slotId: number; pin: string; module?: string }): RealObject[] {
  const lib = new P.PKCS11();
  lib.load(options.module ?? SOFTHSM_MODULE);
  lib.C_Initialize();
  try {
    const session = lib.C_OpenSession(
      slotHandle(lib, options.slotId),
      P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION,
    );
    try {
      lib.C_Login(session, P.CKU_USER, options.pin);
      lib.C_FindObjectsInit(session, []);
      const handles = [];
      for (let h = lib.C_FindObjects(session); h; h = lib.C_FindObjects(session)) handles.push(h);
      lib.C_FindObjectsFinal(session);
      return handles.map((h) => {
        const [cls, id, label] = lib.C_GetAttributeValue(session, h, [
          { type: P.CKA_CLASS },
          { type: P.CKA_ID },
          { type: P.CKA_LABEL },
        ]);
        return {
          class: CLASSES[(cls!.value as Buffer).readUInt32LE(0)] ?? 'other',
          id: Buffer.from(id!.value as Buffer).toString('hex'),
          label: Buffer.from(label!.value as Buffer).toString('utf8'),
          token: true,
        };
      });
    } finally {
      lib.C_CloseSession(session);
    }
  } finally {
    lib.C_Finalize();
    lib.close();
  }
}

/**
 * Files under `dir` that do not parse: every *.json whole, every line of every *.jsonl. A torn
 * write (a crash between open and close, a half-flushed buffer) shows up here.
 */
export function tornFiles(dir: string): string[] {
  const torn: string[] = [];
  for (const file of filesUnder(dir)) {
    const text = () => readFileSync(file, 'utf8');
    try {
      if (file.endsWith('.json')) JSON.parse(text());
      else if (file.endsWith('.jsonl') || file.endsWith('.ndjson')) {
        for (const line of text().split('\n')) if (line.trim()) JSON.parse(line);
      }
    } catch {
      torn.push(file);
    }
  }
  return torn;
}
