import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenService } from '../../../electron/hsm/pkcs11/token-service.host';
import { pkcs11js as P } from '../../../electron/hsm/pkcs11/pkcs11.host';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { hostTokenService } from '../../helpers/host-token-service';

/**
 * A token may type an HMAC-SHA256 key by its hash, CKK_SHA256_HMAC (0x2b, PKCS#11 2.40/3.0),
 * instead of as a generic secret. mkm names it and treats it as the HMAC key it is.
 */
const CKK_SHA256_HMAC = 0x2b;

describe('an HMAC key typed CKK_SHA256_HMAC (SoftHSM2)', () => {
  let hsm: SoftHsmToken;
  let svc: TokenService;
  const value = randomBytes(32);
  const id = randomBytes(16);

  beforeAll(async () => {
    hsm = createSoftHsmToken({ label: 'mkm-keytypes' });
    svc = hostTokenService();
    await svc.loadModule({ path: hsm.modulePath });
    await svc.login({ slotId: hsm.slotId, pin: hsm.userPin });
    const { pkcs11, session } = svc._raw(hsm.slotId);
    pkcs11.C_CreateObject(session, [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: CKK_SHA256_HMAC },
      { type: P.CKA_TOKEN, value: true },
      { type: P.CKA_ID, value: id },
      { type: P.CKA_LABEL, value: 'typed-hmac' },
      { type: P.CKA_VALUE, value },
      { type: P.CKA_SENSITIVE, value: true },
      { type: P.CKA_SIGN, value: true },
      { type: P.CKA_VERIFY, value: true },
    ]);
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
});
