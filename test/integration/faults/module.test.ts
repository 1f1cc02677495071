import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pkcs11js as P, readUlong, type PKCS11 } from '../../../electron/hsm/pkcs11/pkcs11.host';
import { createFaultyModule, faultyModuleAvailable, type FaultyModule } from '../../helpers/faulty-module';
import { slotHandle } from '../../helpers/real-token';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * The fault-injecting module itself, driven through pkcs11js in this process: it forwards to
 * SoftHSM2, counts, and fails, stalls, aborts or pulls the token exactly where its control file
 * says.
 */
const CKF_TOKEN_PRESENT = 0x1; // not among pkcs11js's constants
const ckrOf = (fn: () => unknown): string => {
  try {
    fn();
    return 'CKR_OK';
  } catch (error) {
    return /CKR_\w+/.exec(String((error as Error).message))?.[0] ?? String(error);
  }
};

describe.skipIf(!faultyModuleAvailable())('faulty PKCS#11 module', () => {
  let hsm: SoftHsmToken;
  let faulty: FaultyModule;
  let lib: PKCS11;

  beforeAll(() => {
    hsm = createSoftHsmToken({ label: 'faulty-module' });
    faulty = createFaultyModule();
    lib = new P.PKCS11();
    lib.load(faulty.path);
    lib.C_Initialize();
  });
  afterEach(() => faulty.clear());
  afterAll(() => {
    lib?.C_Finalize();
    lib?.close();
    faulty?.cleanup();
    hsm?.cleanup();
  });

  const session = () => {
    const s = lib.C_OpenSession(slotHandle(lib, hsm.slotId), P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
    lib.C_Login(s, P.CKU_USER, hsm.userPin);
    return s;
  };

  it('forwards to SoftHSM2 and counts every call', () => {
    faulty.clear();
    expect(lib.C_GetTokenInfo(slotHandle(lib, hsm.slotId)).label.trim()).toBe('faulty-module');
    const s = session();
    lib.C_GenerateRandom(s, Buffer.alloc(16));
    lib.C_GenerateRandom(s, Buffer.alloc(16));
    lib.C_CloseSession(s);
    expect(faulty.stats().calls).toMatchObject({
      C_GetTokenInfo: 1,
      C_OpenSession: 1,
      C_Login: 1,
      C_GenerateRandom: 2,
      C_CloseSession: 1,
    });
    expect(faulty.stats().fired).toEqual([]);
  });

  it('answers the chosen CKR on the nth call only, or from the nth call on', () => {
    faulty.control(['C_GenerateRandom 2 CKR_DEVICE_ERROR', 'C_DigestInit 2+ 0x31']);
    const s = session();
    const random = () => ckrOf(() => lib.C_GenerateRandom(s, Buffer.alloc(8)));
    expect([random(), random(), random()]).toEqual(['CKR_OK', 'CKR_DEVICE_ERROR', 'CKR_OK']);
    const digest = () => ckrOf(() => lib.C_DigestInit(s, { mechanism: P.CKM_SHA256 }));
    expect(digest()).toBe('CKR_OK');
    lib.C_Digest(s, Buffer.from('x'), Buffer.alloc(32));
    expect([digest(), digest()]).toEqual(['CKR_DEVICE_MEMORY', 'CKR_DEVICE_MEMORY']);
    expect(faulty.stats().fired.map((f) => `${f.fn}#${f.call}:${f.ckr}`)).toEqual([
      `C_GenerateRandom#2:${0x30}`,
      `C_DigestInit#2:${0x31}`,
      `C_DigestInit#3:${0x31}`,
    ]);
    lib.C_CloseSession(s);
  });

  it('"after": the real call is made, then its answer replaced (the token did it, the caller is told it failed)', () => {
    const s = session();
    faulty.control(['C_CreateObject 1 CKR_DEVICE_ERROR after']);
    const template = [
      { type: P.CKA_CLASS, value: P.CKO_DATA },
      { type: P.CKA_TOKEN, value: false },
      { type: P.CKA_LABEL, value: 'made-anyway' },
    ];
    expect(ckrOf(() => lib.C_CreateObject(s, template))).toBe('CKR_DEVICE_ERROR');
    lib.C_FindObjectsInit(s, [{ type: P.CKA_LABEL, value: 'made-anyway' }]);
    expect(lib.C_FindObjects(s)).not.toBeNull();
    lib.C_FindObjectsFinal(s);
    lib.C_CloseSession(s);
  });

  it('counts from zero again whenever the control file is written', () => {
    const s = session();
    faulty.control(['C_GenerateRandom 1 CKR_USER_NOT_LOGGED_IN']);
    expect(ckrOf(() => lib.C_GenerateRandom(s, Buffer.alloc(8)))).toBe('CKR_USER_NOT_LOGGED_IN');
    faulty.control(['C_GenerateRandom 1 CKR_SESSION_HANDLE_INVALID']);
    expect(ckrOf(() => lib.C_GenerateRandom(s, Buffer.alloc(8)))).toBe('CKR_SESSION_HANDLE_INVALID');
    expect(faulty.stats().calls.C_GenerateRandom).toBe(1);
    lib.C_CloseSession(s);
  });

  it('a pulled token: no slot with a token, flag cleared, token calls refused, sessions and login gone', () => {
    const s = session();
    expect(lib.C_GetSlotList(true).length).toBeGreaterThan(0);
    expect(lib.C_GetSlotInfo(slotHandle(lib, hsm.slotId)).flags & CKF_TOKEN_PRESENT).toBe(CKF_TOKEN_PRESENT);
    faulty.removeToken();
    expect(lib.C_GetSlotList(true)).toEqual([]);
    const slot = slotHandle(lib, hsm.slotId);
    expect(lib.C_GetSlotInfo(slot).flags & CKF_TOKEN_PRESENT).toBe(0);
    expect(lib.C_GetSlotInfo(slotHandle(lib, hsm.slotId)).slotDescription).toBeTruthy();
    expect(ckrOf(() => lib.C_GetTokenInfo(slot))).toBe('CKR_TOKEN_NOT_PRESENT');
    expect(ckrOf(() => lib.C_OpenSession(slot, P.CKF_SERIAL_SESSION))).toBe('CKR_TOKEN_NOT_PRESENT');
    expect(ckrOf(() => lib.C_GenerateRandom(s, Buffer.alloc(8)))).toBe('CKR_DEVICE_REMOVED');
    // One event for the removal, on the token's slot; then none (pkcs11js: CKR_NO_EVENT is null).
    expect(readUlong(lib.C_WaitForSlotEvent(P.CKF_DONT_BLOCK)!)).toBe(hsm.slotId);
    expect(lib.C_WaitForSlotEvent(P.CKF_DONT_BLOCK)).toBeNull();

    faulty.insertToken();
    expect(lib.C_GetSlotList(true).length).toBeGreaterThan(0);
    expect(readUlong(lib.C_WaitForSlotEvent(P.CKF_DONT_BLOCK)!)).toBe(hsm.slotId);
    expect(lib.C_GetTokenInfo(slotHandle(lib, hsm.slotId)).flags & P.CKF_TOKEN_INITIALIZED).toBeTruthy();
    // The old session went with the token, as it does with a real one.
    expect(ckrOf(() => lib.C_GenerateRandom(s, Buffer.alloc(8)))).toBe('CKR_SESSION_HANDLE_INVALID');
    // A new session starts logged out.
    const fresh = lib.C_OpenSession(slotHandle(lib, hsm.slotId), P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
    expect(lib.C_GetSessionInfo(fresh).state).toBe(2); // CKS_RW_PUBLIC_SESSION, not CKS_RW_USER_FUNCTIONS
    lib.C_CloseSession(fresh);
  });

  it('replug at a call: that call fails as removed, the token is back at once, logged out', () => {
    const s = session();
    faulty.control(['C_GenerateRandom 2 replug']);
    lib.C_GenerateRandom(s, Buffer.alloc(8));
    expect(ckrOf(() => lib.C_GenerateRandom(s, Buffer.alloc(8)))).toBe('CKR_DEVICE_REMOVED');
    expect(lib.C_GetSlotList(true).length).toBeGreaterThan(0);
    expect(ckrOf(() => lib.C_GenerateRandom(s, Buffer.alloc(8)))).toBe('CKR_SESSION_HANDLE_INVALID');
    // Two events: out, then in.
    expect(lib.C_WaitForSlotEvent(P.CKF_DONT_BLOCK)).not.toBeNull();
    expect(lib.C_WaitForSlotEvent(P.CKF_DONT_BLOCK)).not.toBeNull();
    expect(lib.C_WaitForSlotEvent(P.CKF_DONT_BLOCK)).toBeNull();
    expect(faulty.stats().fired).toMatchObject([{ fn: 'C_GenerateRandom', call: 2, action: 'replug' }]);
  });

  it('stall: the call waits, then goes through', () => {
    const s = session();
    faulty.control(['C_GenerateRandom 1 stall 300']);
    const started = process.hrtime.bigint();
    lib.C_GenerateRandom(s, Buffer.alloc(8));
    // A lower bound only: the stall happened.
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeGreaterThanOrEqual(290);
    lib.C_CloseSession(s);
  });

  it('abort: the process that made the call dies; the count survives into the next process', () => {
    faulty.control(['C_GenerateRandom 1 abort']);
    const script = `
      const P = require('pkcs11js'); const lib = new P.PKCS11(); lib.load(${JSON.stringify(faulty.path)});
      lib.C_Initialize(); const s = lib.C_OpenSession(lib.C_GetSlotList(true)[0], P.CKF_SERIAL_SESSION);
      lib.C_GenerateRandom(s, Buffer.alloc(8)); console.log('survived');`;
    const run = () => spawnSync(process.execPath, ['-e', script], { env: process.env, encoding: 'utf8' });
    const first = run();
    expect(first.signal).toBe('SIGABRT');
    expect(first.stdout).not.toContain('survived');
    // The first call was counted before the abort, so the rule does not fire again.
    const second = run();
    expect(second.stdout).toContain('survived');
    expect(faulty.stats().calls.C_GenerateRandom).toBe(2);
    expect(faulty.stats().fired).toHaveLength(1);
  });
});
