import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenEngine } from '../../../electron/hsm/pkcs11/token-engine.host';
import type { Envelope } from '../../../shared/contract-kit.std';
import { pkcs11js as P } from '../../../electron/hsm/pkcs11/pkcs11.host';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { hostTokenService } from '../../helpers/host-token-engine';
import { openApp } from '../../helpers/app';

/**
 * A token may type an HMAC-SHA256 key by its hash, CKK_SHA256_HMAC (0x2b, PKCS#11 2.40/3.0),
 * instead of as a generic secret. mkm names it and treats it as the HMAC key it is.
 */
const CKK_SHA256_HMAC = 0x2b;
const CKK_SHA512_HMAC = 0x2d;

/** An HMAC key made on the token as another tool would, typed by its hash. */
function createHmacKey(
  svc: TokenEngine,
  slotId: number,
  key: { keyType: number; id: Buffer; label: string; value: Buffer },
): void {
  const { pkcs11, session } = svc._raw(slotId);
  pkcs11.C_CreateObject(session, [
    { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
    { type: P.CKA_KEY_TYPE, value: key.keyType },
    { type: P.CKA_TOKEN, value: true },
    { type: P.CKA_ID, value: key.id },
    { type: P.CKA_LABEL, value: key.label },
    { type: P.CKA_VALUE, value: key.value },
    { type: P.CKA_SENSITIVE, value: true },
    { type: P.CKA_SIGN, value: true },
    { type: P.CKA_VERIFY, value: true },
  ]);
}

describe('an HMAC key typed CKK_SHA256_HMAC (SoftHSM2)', () => {
  let hsm: SoftHsmToken;
  let svc: TokenEngine;
  const value = randomBytes(32);
  const id = randomBytes(16);

  beforeAll(async () => {
    hsm = createSoftHsmToken({ label: 'mkm-keytypes' });
    svc = hostTokenService();
    await svc.loadModule({ path: hsm.modulePath });
    await svc.login({ slotId: hsm.slotId, pin: hsm.userPin });
    createHmacKey(svc, hsm.slotId, { keyType: CKK_SHA256_HMAC, id, label: 'typed-hmac', value });
  });

  afterAll(async () => {
    await svc?.unloadModule();
    hsm?.cleanup();
  });

  it('is listed by the name of its type, not a bare number', async () => {
    const [key] = (await svc.listObjects({ slotId: hsm.slotId })).filter((o) => o.id === id.toString('hex'));
    expect(key?.keyType).toBe('sha256-hmac');
  });

  it('has an HMAC check value, and MACs as HMAC-SHA256', async () => {
    const kcv = await svc.kcv({ slotId: hsm.slotId, id: id.toString('hex') });
    const expected = createHmac('sha256', value)
      .update(Buffer.alloc(16))
      .digest()
      .subarray(0, 3)
      .toString('hex');
    expect(kcv).toEqual({ kcv: expected, method: 'hmac' });
    const data = Buffer.from('typed');
    const { mac } = await svc.hmacSign({
      slotId: hsm.slotId,
      id: id.toString('hex'),
      data: data.toString('base64'),
    });
    expect(mac).toBe(createHmac('sha256', value).update(data).digest('base64'));
  });

  const sha512Id = randomBytes(16);
  /** A key typed by another hash: mkm MACs with HMAC-SHA256 only. */
  const createSha512Key = () =>
    createHmacKey(svc, hsm.slotId, {
      keyType: CKK_SHA512_HMAC,
      id: sha512Id,
      label: 'sha512-hmac',
      value: randomBytes(64),
    });

  it('is adopted into the key lifecycle as a managed HMAC key; one for another hash is refused, saying why', async () => {
    createSha512Key();
    // The app's own host takes the token over.
    await svc.unloadModule();
    const dataDir = mkdtempSync(join(tmpdir(), 'mkm-keytypes-app-'));
    const app = openApp(dataDir, hsm.modulePath, { watchSlots: false });
    const call = async (channel: string, request?: unknown) =>
      (await app.registry.dispatch(channel, request, { transport: 'cli' })) as Envelope;
    try {
      expect((await call('tokens.login', { slotId: hsm.slotId, pin: hsm.userPin })).ok).toBe(true);
      const adopted = await call('lifecycle.adopt', {
        ckaId: id.toString('hex'),
        purpose: 'hmac',
        name: 'typed',
        slotId: hsm.slotId,
      });
      expect(adopted.ok, JSON.stringify(adopted)).toBe(true);
      expect(adopted.ok && adopted.result).toMatchObject({ type: 'hmac-256', state: 'active' });
      const other = await call('lifecycle.adopt', {
        ckaId: sha512Id.toString('hex'),
        purpose: 'hmac',
        name: 'other-hash',
        slotId: hsm.slotId,
      });
      expect(other.ok).toBe(false);
      if (!other.ok) {
        expect(other.error.code).toBe('KEY_TYPE_INCONSISTENT');
        expect(other.error.message).toContain('an HMAC key for another hash (sha512-hmac)');
      }
    } finally {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
      await svc.loadModule({ path: hsm.modulePath });
      await svc.login({ slotId: hsm.slotId, pin: hsm.userPin });
    }
  });
});
