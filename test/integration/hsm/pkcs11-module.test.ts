import { existsSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  wellKnownModuleCandidates,
  wellKnownModules,
} from '../../../electron/hsm/pkcs11/well-known-modules.nodejs';
import { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from '../../helpers/softhsm';
import { failure } from '../../helpers/failure';
import { hostTokenService } from '../../helpers/host-token-engine';

describe('PKCS#11 module loading (real SoftHSM2)', () => {
  let hsm: SoftHsmToken;
  const svc = hostTokenService();

  beforeAll(() => {
    hsm = createSoftHsmToken({ label: 'mod-test', slots: 2 });
  });
  afterAll(async () => {
    await svc.unloadModule();
    hsm.cleanup();
  });

  it('refuses calls before a module is loaded', async () => {
    expect((await failure(svc.listSlots())).code).toBe('NO_MODULE');
    expect(await svc.getModuleInfo()).toBeNull();
  });

  it('says MODULE_NOT_FOUND for a path that does not exist', async () => {
    const e = await failure(svc.loadModule({ path: '/nonexistent/libpkcs11.so' }));
    expect(e.code).toBe('MODULE_NOT_FOUND');
  });

  it('says MODULE_INVALID for an executable and for a library that is not PKCS#11, without crashing', async () => {
    const exe = await failure(svc.loadModule({ path: '/bin/ls' }));
    expect(exe.code).toBe('MODULE_INVALID');
    expect(exe.details?.reason).toMatch(/not a loadable library/);
    const libz = ['/usr/lib/x86_64-linux-gnu/libz.so.1', '/lib/x86_64-linux-gnu/libz.so.1'].find(existsSync);
    expect(libz).toBeDefined();
    const notP11 = await failure(svc.loadModule({ path: libz! }));
    expect(notP11.code).toBe('MODULE_INVALID');
    expect(notP11.details?.reason).toMatch(/C_GetFunctionList/);
    const text = `${hsm.dir}/not-a-library.so`;
    writeFileSync(text, 'hello');
    expect((await failure(svc.loadModule({ path: text }))).code).toBe('MODULE_INVALID');
  });

  it('says MODULE_INIT_FAILED when C_Initialize fails (SoftHSM2 with a missing config), keeping the CKR', async () => {
    const saved = process.env.SOFTHSM2_CONF;
    process.env.SOFTHSM2_CONF = `${hsm.dir}/missing.conf`;
    try {
      const e = await failure(svc.loadModule({ path: SOFTHSM_MODULE }));
      expect(e.code).toBe('MODULE_INIT_FAILED');
      expect(e.details).toMatchObject({ ckr: 'CKR_GENERAL_ERROR', ckrValue: 5 });
    } finally {
      process.env.SOFTHSM2_CONF = saved;
    }
  });

  it('loads SoftHSM2 and reports C_GetInfo', async () => {
    const info = await svc.loadModule({ path: hsm.modulePath });
    expect(info).toEqual({
      path: SOFTHSM_MODULE,
      cryptokiVersion: '2.40',
      manufacturer: 'SoftHSM',
      libraryDescription: 'Implementation of PKCS11',
      libraryVersion: '2.6',
    });
    expect(await svc.getModuleInfo()).toEqual(info);
  });

  it('lists slots with slot info, token info and decoded flags', async () => {
    const slots = await svc.listSlots();
    // Two initialized tokens plus SoftHSM2's spare uninitialized slot.
    expect(slots).toHaveLength(3);
    const first = slots.find((s) => s.slotId === hsm.slotId)!;
    expect(first).toMatchObject({
      manufacturer: 'SoftHSM project',
      removable: false,
      flags: { tokenPresent: true, removableDevice: false },
      session: { open: false, loggedIn: false, userType: null },
      token: {
        label: 'mod-test',
        serial: hsm.serial,
        model: 'SoftHSM v2',
        manufacturer: 'SoftHSM project',
        firmware: '2.6',
        flags: {
          rng: true,
          loginRequired: true,
          tokenInitialized: true,
          userPinInitialized: true,
          userPinLocked: false,
          userPinCountLow: false,
          protectedAuthenticationPath: false,
          writeProtected: false,
        },
      },
    });
    expect(slots.find((s) => s.slotId === hsm.tokens[1]!.slotId)?.token?.label).toBe('mod-test-2');
    const spare = slots.find((s) => s.token && !s.token.flags.tokenInitialized);
    expect(spare).toBeDefined();
  });

  it('says SLOT_NOT_FOUND for a slot that does not exist', async () => {
    expect((await failure(svc.login({ slotId: 424242, pin: '1234' }))).code).toBe('SLOT_NOT_FOUND');
  });

  it('validates params without echoing them', async () => {
    const e = await failure(svc.login({ slotId: -1, pin: '' } as never));
    expect(e.code).toBe('VALIDATION');
    expect(JSON.stringify(e.toShape())).not.toContain('"pin":');
  });

  it('unloads and can load again', async () => {
    await svc.unloadModule();
    expect((await failure(svc.listSlots())).code).toBe('NO_MODULE');
    await svc.loadModule({ path: hsm.modulePath });
    expect((await svc.listSlots()).length).toBe(3);
  });

  it('lists well-known modules that exist on this machine (SoftHSM2 here)', async () => {
    const found = await svc.wellKnownModules();
    expect(found.map((m) => m.path)).toContain(SOFTHSM_MODULE);
    expect(found.every((m) => existsSync(m.path))).toBe(true);
    expect(wellKnownModules('win32', () => true).some((m) => m.name === 'OpenSC')).toBe(true);
    for (const os of ['linux', 'darwin', 'win32']) {
      const names = wellKnownModuleCandidates(os).map((m) => m.name);
      expect(names.some((n) => n.includes('OpenSC'))).toBe(true);
      expect(names.some((n) => n.includes('SoftHSM2'))).toBe(true);
      expect(names.some((n) => n.includes('ykcs11'))).toBe(true);
      expect(names.some((n) => n.includes('SafeNet'))).toBe(true);
    }
    expect(wellKnownModuleCandidates('linux').some((m) => m.vendor === 'Nitrokey')).toBe(true);
  });
});
