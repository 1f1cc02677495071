import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pkcs11js as P } from '../../../electron/hsm/pkcs11/pkcs11.host';
import type { ObjectClass, ObjectInfo } from '../../../shared/tokens.std';
import { hostTokenService } from '../../helpers/host-token-engine';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * Listing every object runs one search and reads each object with the template of the most
 * common class so far. Data objects outnumber the keys here, so the data template (which every
 * object answers) becomes the guess: a key read with it must still be described with its own
 * class's template, exactly as the class-by-class listing describes it.
 */
describe('listObjects without a class (real SoftHSM2)', () => {
  let hsm: SoftHsmToken;
  const svc = hostTokenService();
  let slotId: number;
  const CLASSES: ObjectClass[] = ['secret', 'private', 'public', 'certificate', 'data', 'other'];

  beforeAll(async () => {
    hsm = createSoftHsmToken({ label: 'list-test' });
    slotId = hsm.slotId;
    await svc.loadModule({ path: hsm.modulePath });
    await svc.login({ slotId, pin: hsm.userPin });
    const raw = svc._raw(slotId);
    for (let i = 0; i < 24; i++) {
      raw.pkcs11.C_CreateObject(raw.session, [
        { type: P.CKA_CLASS, value: P.CKO_DATA },
        { type: P.CKA_TOKEN, value: true },
        { type: P.CKA_PRIVATE, value: i % 2 === 0 },
        { type: P.CKA_LABEL, value: `data ${i}` },
        { type: P.CKA_APPLICATION, value: 'list-test' },
        { type: P.CKA_VALUE, value: randomBytes(8) },
      ]);
    }
    await svc.generateKey({ slotId, type: 'aes-256', label: 'data key', purpose: 'data' });
    await svc.generateKey({ slotId, type: 'hmac-256', label: 'mac key', purpose: 'audit' });
    await svc.generateKey({ slotId, type: 'rsa-2048', label: 'transport', purpose: 'gateway-transport' });
  });
  afterAll(async () => {
    await svc.unloadModule();
    hsm.cleanup();
  });

  it('describes every object as the listing by class does, in the same order', async () => {
    const byClass: ObjectInfo[] = [];
    for (const cls of CLASSES) byClass.push(...(await svc.listObjects({ slotId, class: cls })));
    const all = await svc.listObjects({ slotId });
    expect(all.length).toBe(24 + 2 + 2);
    expect(all).toEqual(byClass);
    const keys = all.filter((o) => o.class !== 'data');
    expect(keys.map((o) => [o.class, o.keyType, o.bits]).sort()).toEqual([
      ['private', 'rsa', 2048],
      ['public', 'rsa', 2048],
      ['secret', 'aes', 256],
      ['secret', 'generic-secret', 256],
    ]);
    for (const k of keys) expect(k.id).toMatch(/^[0-9a-f]{32}$/);
  });

  it('searches the token once', async () => {
    const raw = svc._raw(slotId);
    const searches: number[] = [];
    const init = raw.pkcs11.C_FindObjectsInit.bind(raw.pkcs11);
    raw.pkcs11.C_FindObjectsInit = (session, template) => {
      searches.push(template.length);
      init(session, template);
    };
    try {
      expect(await svc.listObjects({ slotId })).toHaveLength(28);
    } finally {
      delete (raw.pkcs11 as { C_FindObjectsInit?: unknown }).C_FindObjectsInit;
    }
    expect(searches).toEqual([0]);
  });
});
