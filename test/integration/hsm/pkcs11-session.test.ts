import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../electron/core/logger.nodejs';
import type { TokenEngine } from '../../../electron/hsm/pkcs11/token-engine.host';
import { createSoftHsmToken, type SoftHsmSlot, type SoftHsmToken } from '../../helpers/softhsm';
import { failure } from '../../helpers/failure';
import { hostTokenService } from '../../helpers/host-token-engine';

describe('PKCS#11 sessions, login and PINs (real SoftHSM2)', () => {
  let hsm: SoftHsmToken;
  let spare: SoftHsmSlot;
  let lockout: SoftHsmSlot;
  let logFile: string;
  let svc: TokenEngine;

  beforeAll(async () => {
    hsm = createSoftHsmToken({ label: 'session-test', userPin: '246810', soPin: '13579135' });
    spare = hsm.addToken('spare');
    lockout = hsm.addToken('lockout');
    logFile = join(hsm.dir, 'host.log');
    svc = hostTokenService({
      logger: createLogger({ name: 'host', file: logFile, level: 'debug', stderrLevel: 'silent' }),
    });
    await svc.loadModule({ path: hsm.modulePath });
  });
  afterAll(async () => {
    await svc.unloadModule();
    hsm.cleanup();
  });

  const slotState = async (slotId: number) => (await svc.listSlots()).find((s) => s.slotId === slotId)!;

  it('needs a login for private objects and says NOT_LOGGED_IN', async () => {
    const e = await failure(
      svc.generateKey({ slotId: hsm.slotId, type: 'aes-256', label: 'x', purpose: 'data' }),
    );
    expect(e.code).toBe('NOT_LOGGED_IN');
    expect(e.details).toMatchObject({ ckr: 'CKR_USER_NOT_LOGGED_IN', ckrValue: 0x101 });
  });

  it('probes capabilities before anyone logs in (public session objects only)', async () => {
    const caps = await svc.probeCapabilities({ slotId: hsm.slotId });
    expect(caps.capabilities.aesCmac.supported).toBe(true);
    expect(caps.bestOaepUnwrap).toBe('RSA_OAEP_SHA1');
    expect((await slotState(hsm.slotId)).session.loggedIn).toBe(false);
  });

  it('asks for the PIN when the token has no PIN pad', async () => {
    const e = await failure(svc.login({ slotId: hsm.slotId }));
    expect(e.code).toBe('VALIDATION');
  });

  it('logs in, keeps the session across calls, and logs out', async () => {
    expect(await svc.login({ slotId: hsm.slotId, pin: hsm.userPin })).toEqual({
      slotId: hsm.slotId,
      loggedIn: true,
      userType: 'user',
    });
    expect((await slotState(hsm.slotId)).session).toEqual({ open: true, loggedIn: true, userType: 'user' });
    // A second login is not an error: the UI may not know the session survived.
    await svc.login({ slotId: hsm.slotId, pin: hsm.userPin });
    const key = await svc.generateKey({
      slotId: hsm.slotId,
      type: 'hmac-256',
      label: 'after-login',
      purpose: 'hmac',
    });
    expect(key.kcv?.method).toBe('hmac');
    await svc.logout({ slotId: hsm.slotId });
    expect((await slotState(hsm.slotId)).session).toEqual({ open: true, loggedIn: false, userType: null });
    // Private objects are invisible again.
    expect(await svc.listObjects({ slotId: hsm.slotId })).toEqual([]);
    await svc.logout({ slotId: hsm.slotId }); // idempotent
  });

  it('changes the user PIN; the old one stops working', async () => {
    await svc.login({ slotId: hsm.slotId, pin: hsm.userPin });
    await svc.changePin({ slotId: hsm.slotId, oldPin: hsm.userPin, newPin: '97531864' });
    await svc.logout({ slotId: hsm.slotId });
    expect((await failure(svc.login({ slotId: hsm.slotId, pin: hsm.userPin }))).code).toBe('PIN_INCORRECT');
    await svc.login({ slotId: hsm.slotId, pin: '97531864' });
    const wrongOld = await failure(
      svc.changePin({ slotId: hsm.slotId, oldPin: '00000000', newPin: '11112222' }),
    );
    expect(wrongOld.code).toBe('PIN_INCORRECT');
    expect(wrongOld.details).toMatchObject({ userType: 'user', locked: false });
    await svc.changePin({ slotId: hsm.slotId, oldPin: '97531864', newPin: hsm.userPin });
    await svc.logout({ slotId: hsm.slotId });
  });

  it('refuses a PIN outside the token length range', async () => {
    await svc.login({ slotId: hsm.slotId, pin: hsm.userPin });
    const e = await failure(svc.changePin({ slotId: hsm.slotId, oldPin: hsm.userPin, newPin: '12' }));
    expect(e.code).toBe('PIN_LEN_RANGE');
    await svc.logout({ slotId: hsm.slotId });
  });

  it('logs in as security officer and initializes a user PIN', async () => {
    await svc.initUserPin({ slotId: spare.slotId, soPin: hsm.soPin, userPin: '55554444' });
    await svc.login({ slotId: spare.slotId, pin: '55554444' });
    await svc.logout({ slotId: spare.slotId });
    const so = await svc.login({ slotId: spare.slotId, pin: hsm.soPin, userType: 'so' });
    expect(so.userType).toBe('so');
    expect((await slotState(spare.slotId)).session.userType).toBe('so');
    await svc.logout({ slotId: spare.slotId });
    const wrongSo = await failure(
      svc.initUserPin({ slotId: spare.slotId, soPin: '00000000', userPin: '11112222' }),
    );
    expect(wrongSo.code).toBe('PIN_INCORRECT');
    expect(wrongSo.details).toMatchObject({ userType: 'so' });
  });

  it('initializes a token (re-init of the spare token wipes it and sets the label)', async () => {
    await svc.login({ slotId: spare.slotId, pin: '55554444' });
    await svc.generateKey({ slotId: spare.slotId, type: 'aes-256', label: 'to-be-wiped', purpose: 'kek' });
    const result = await svc.initToken({ slotId: spare.slotId, soPin: hsm.soPin, label: 'reborn' });
    expect(result).toMatchObject({ slotId: spare.slotId, label: 'reborn' });
    expect(result.serial).toMatch(/^[0-9a-f]{16}$/);
    const state = await slotState(spare.slotId);
    expect(state.token).toMatchObject({
      label: 'reborn',
      flags: { tokenInitialized: true, userPinInitialized: false },
    });
    expect(state.session.open).toBe(false);
    // No user PIN yet: a user login is refused until the SO sets one.
    expect((await failure(svc.login({ slotId: spare.slotId, pin: '55554444' }))).code).toBe('PIN_LOCKED');
    await svc.initUserPin({ slotId: spare.slotId, soPin: hsm.soPin, userPin: '12121212' });
    await svc.login({ slotId: spare.slotId, pin: '12121212' });
    expect(await svc.listObjects({ slotId: spare.slotId })).toEqual([]);
    expect(
      (await failure(svc.initToken({ slotId: spare.slotId, soPin: '99999999', label: 'nope' }))).code,
    ).toBe('PIN_INCORRECT');
  });

  /**
   * What SoftHSM2 2.6 really does, found by this test: after a wrong user PIN it sets
   * CKF_USER_PIN_COUNT_LOW and keeps it; it never sets CKF_USER_PIN_FINAL_TRY or
   * CKF_USER_PIN_LOCKED (it has no retry limit) and the right PIN clears COUNT_LOW. A smartcard
   * walks count-low → final-try → locked; the details carry whatever the token says, in that order.
   */
  it('reports the token PIN retry flags after each wrong PIN (SoftHSM2: count-low only, never locks)', async () => {
    const seen: { countLow: unknown; finalTry: unknown; locked: unknown }[] = [];
    for (let i = 0; i < 6; i++) {
      const e = await failure(svc.login({ slotId: lockout.slotId, pin: '000000' }));
      expect(e.code).toBe('PIN_INCORRECT');
      expect(e.details).toMatchObject({
        ckr: 'CKR_PIN_INCORRECT',
        ckrValue: 0xa0,
        fn: 'C_Login',
        userType: 'user',
      });
      seen.push({ countLow: e.details!.countLow, finalTry: e.details!.finalTry, locked: e.details!.locked });
    }
    expect(seen).toEqual(Array(6).fill({ countLow: true, finalTry: false, locked: false }));
    expect((await slotState(lockout.slotId)).token!.flags).toMatchObject({
      userPinCountLow: true,
      userPinFinalTry: false,
      userPinLocked: false,
    });
    await svc.login({ slotId: lockout.slotId, pin: hsm.userPin });
    expect((await slotState(lockout.slotId)).token!.flags.userPinCountLow).toBe(false);
  });

  it('reports a session closed behind its back as SESSION_CLOSED, then recovers on the next call and login', async () => {
    await svc.login({ slotId: hsm.slotId, pin: hsm.userPin });
    const { pkcs11, session } = svc._raw(hsm.slotId);
    // What a token pulled and re-inserted (or a library reset) does to an open session.
    pkcs11.C_CloseSession(session);
    const e = await failure(svc.listObjects({ slotId: hsm.slotId }));
    expect(e.code).toBe('SESSION_CLOSED');
    expect(e.details).toMatchObject({ ckr: 'CKR_SESSION_HANDLE_INVALID' });
    // The next call opens a fresh session; the login went with the old one.
    expect((await slotState(hsm.slotId)).session.loggedIn).toBe(false);
    expect(
      (await failure(svc.generateKey({ slotId: hsm.slotId, type: 'aes-256', label: 'x', purpose: 'data' })))
        .code,
    ).toBe('NOT_LOGGED_IN');
    await svc.login({ slotId: hsm.slotId, pin: hsm.userPin });
    expect((await svc.listObjects({ slotId: hsm.slotId })).length).toBeGreaterThan(0);
    // And a login straight after the loss recovers by itself.
    pkcs11.C_CloseSession(svc._raw(hsm.slotId).session);
    expect((await svc.login({ slotId: hsm.slotId, pin: hsm.userPin })).loggedIn).toBe(true);
    expect((await svc.listObjects({ slotId: hsm.slotId })).length).toBeGreaterThan(0);
  });

  it('never writes a PIN to the log', () => {
    const log = readFileSync(logFile, 'utf8');
    expect(log).toContain('Logged in to token');
    expect(log).toContain('Wrong PIN');
    for (const pin of [hsm.userPin, hsm.soPin, '97531864', '55554444', '12121212', '000000', '00000000']) {
      expect(log).not.toContain(pin);
    }
    // Nor does the token store PINs in clear anywhere in its files.
    const files = readdirSync(join(hsm.dir, 'tokens'), { recursive: true }) as string[];
    for (const f of files) {
      const p = join(hsm.dir, 'tokens', f);
      if (statSync(p).isFile()) expect(readFileSync(p).includes(Buffer.from(hsm.userPin))).toBe(false);
    }
  });
});
