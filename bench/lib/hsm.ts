import { existsSync, readFileSync } from 'node:fs';
import { pkcs11js, type Handle, type PKCS11 } from '../../electron/hsm/pkcs11/pkcs11.host';
import { createSoftHsmToken, type SoftHsmToken } from '../../test/helpers/softhsm';

export { mkmTokens, rssKiB, type MkmTokens } from './mkm-tokens';

/**
 * Shared set-up for the HSM benchmarks: a fresh SoftHSM2 token, mkm's main-process service on
 * it, and a raw pkcs11js session on the same token for the baselines.
 */

const P = pkcs11js;

/**
 * A fresh token. Its store goes on tmpfs when there is one: SoftHSM2's file backend rewrites an
 * object file several times per C_CreateObject, which on a shared disk makes seeding 10,000
 * objects take minutes. mkm and every baseline read the same store, so the ratios do not move.
 */
export function freshToken(label: string): SoftHsmToken {
  const previous = process.env.TMPDIR;
  if (existsSync('/dev/shm')) process.env.TMPDIR = '/dev/shm';
  try {
    const hsm = createSoftHsmToken({ label });
    if (previous === undefined) delete hsm.env.TMPDIR;
    else hsm.env.TMPDIR = previous;
    return hsm;
  } finally {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
  }
}

export interface RawSession {
  pkcs11: PKCS11;
  session: Handle;
  /** The one object with this CKA_ID (hex) and class. */
  find(idHex: string, cls: number): Handle;
  close(): void;
}

/** pkcs11js straight on the token in this process: what a hand-written script would do. */
export function rawSession(hsm: SoftHsmToken): RawSession {
  const pkcs11 = new P.PKCS11();
  pkcs11.load(hsm.modulePath);
  pkcs11.C_Initialize();
  const slot = pkcs11.C_GetSlotList(true).find((s) => s.readBigUInt64LE(0) === BigInt(hsm.slotId));
  if (!slot) throw new Error(`slot ${hsm.slotId} not found`);
  const session = pkcs11.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
  pkcs11.C_Login(session, P.CKU_USER, hsm.userPin);
  return {
    pkcs11,
    session,
    find(idHex, cls) {
      pkcs11.C_FindObjectsInit(session, [
        { type: P.CKA_CLASS, value: cls },
        { type: P.CKA_ID, value: Buffer.from(idHex, 'hex') },
      ]);
      const found = pkcs11.C_FindObjects(session, 2);
      pkcs11.C_FindObjectsFinal(session);
      if (found.length !== 1) throw new Error(`expected one object with id ${idHex}, found ${found.length}`);
      return found[0]!;
    },
    close() {
      try {
        pkcs11.C_Logout(session);
        pkcs11.C_CloseSession(session);
      } finally {
        pkcs11.C_Finalize();
        pkcs11.close();
      }
    },
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** 41200 -> "41,200" */
export const int = (n: number): string => Math.round(n).toLocaleString('en-US');

export const verdict = (met: boolean): string => (met ? 'met' : 'MISSED');

/** CPU time (user + system) a process has used so far, in ms: this one, or another by pid. */
export function cpuMs(pid?: number): number {
  if (pid === undefined) {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  }
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticksPerMs = 100 / 1000; // USER_HZ is 100 on Linux
  return (Number(fields[11]) + Number(fields[12])) / ticksPerMs;
}

export const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;
