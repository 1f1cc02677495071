import { spawnSync } from 'node:child_process';
import { constants, createVerify, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenEngine } from '../../../electron/hsm/pkcs11/token-engine.host';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { failure } from '../../helpers/failure';
import { hostTokenService } from '../../helpers/host-token-engine';

const b64 = (b: Buffer) => b.toString('base64');

/** `openssl dgst -sha256 -verify signer.pem` of a signature file over a data file, both in dir. */
const opensslVerify = (dir: string, sig: string, data: string, options: string[] = []) =>
  spawnSync(
    'openssl',
    [
      'dgst',
      '-sha256',
      ...options,
      '-verify',
      join(dir, 'signer.pem'),
      '-signature',
      join(dir, sig),
      join(dir, data),
    ],
    { encoding: 'utf8' },
  );

/**
 * RSA signatures in the token (the `sign` host method): a signing-purpose key signs with
 * CKM_SHA256_RSA_PKCS and CKM_SHA256_RSA_PKCS_PSS, and what it makes verifies with node:crypto and
 * with the openssl CLI; keys without CKA_SIGN do not sign.
 */
describe('PKCS#11 RSA signatures (real SoftHSM2, cross-checked with node:crypto and openssl)', () => {
  let hsm: SoftHsmToken;
  let svc: TokenEngine;
  let slotId: number;
  let signerId: string;
  let signerPem: string;
  let transportId: string;

  beforeAll(async () => {
    hsm = createSoftHsmToken({ label: 'sign-test' });
    slotId = hsm.slotId;
    svc = hostTokenService();
    await svc.loadModule({ path: hsm.modulePath });
    await svc.login({ slotId, pin: hsm.userPin });
    const signer = await svc.generateKey({ slotId, type: 'rsa-3072', label: 'signer', purpose: 'signing' });
    signerId = signer.id;
    signerPem = (await svc.exportPublicKey({ slotId, id: signerId, format: 'pem' })).pem!;
    transportId = (
      await svc.generateKey({ slotId, type: 'rsa-2048', label: 'transport', purpose: 'gateway-transport' })
    ).id;
  });
  afterAll(async () => {
    await svc.unloadModule();
    hsm.cleanup();
  });

  it('gives a signing key the sign usage on its private half and nothing else', async () => {
    const priv = await svc.getObject({ slotId, id: signerId, class: 'private' });
    expect(priv.usages).toEqual(['sign']);
    const pub = await svc.getObject({ slotId, id: signerId, class: 'public' });
    expect(pub.usages).toEqual(['verify']);
  });

  it('signs with PKCS#1 v1.5 SHA-256: node:crypto and openssl dgst -verify accept it, and reject a changed message', async () => {
    const data = randomBytes(1000);
    const { signature } = await svc.sign({
      slotId,
      id: signerId,
      mechanism: 'SHA256_RSA_PKCS',
      data: b64(data),
    });
    const sig = Buffer.from(signature, 'base64');
    expect(sig.length).toBe(384);
    expect(createVerify('sha256').update(data).verify(signerPem, sig)).toBe(true);

    const dir = hsm.dir;
    writeFileSync(join(dir, 'signer.pem'), signerPem);
    writeFileSync(join(dir, 'data.bin'), data);
    writeFileSync(join(dir, 'sig.bin'), sig);
    const ok = opensslVerify(dir, 'sig.bin', 'data.bin');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/Verified OK/);

    data[0] = data[0]! ^ 1;
    writeFileSync(join(dir, 'data.bin'), data);
    const refused = opensslVerify(dir, 'sig.bin', 'data.bin');
    expect(refused.status).not.toBe(0);
    expect(refused.stdout).toMatch(/Verification failure/);
  });

  it('signs with RSASSA-PSS SHA-256 (MGF1-SHA-256, 32-byte salt), randomized, verified by node:crypto and openssl', async () => {
    const data = Buffer.from('{"format":"mkm-exchange"}');
    const one = Buffer.from(
      (await svc.sign({ slotId, id: signerId, mechanism: 'SHA256_RSA_PKCS_PSS', data: b64(data) })).signature,
      'base64',
    );
    const two = Buffer.from(
      (await svc.sign({ slotId, id: signerId, mechanism: 'SHA256_RSA_PKCS_PSS', data: b64(data) })).signature,
      'base64',
    );
    // A salted signature differs each time; both verify.
    expect(one.equals(two)).toBe(false);
    for (const sig of [one, two]) {
      expect(
        createVerify('sha256')
          .update(data)
          .verify({ key: signerPem, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig),
      ).toBe(true);
    }
    // Not a PKCS#1 v1.5 signature: the padding is part of what is verified.
    expect(createVerify('sha256').update(data).verify(signerPem, one)).toBe(false);

    const dir = hsm.dir;
    writeFileSync(join(dir, 'signer.pem'), signerPem);
    writeFileSync(join(dir, 'pss.txt'), data);
    writeFileSync(join(dir, 'pss.sig'), one);
    const ok = opensslVerify(dir, 'pss.sig', 'pss.txt', [
      '-sigopt',
      'rsa_padding_mode:pss',
      '-sigopt',
      'rsa_pss_saltlen:32',
      '-sigopt',
      'rsa_mgf1_md:sha256',
    ]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/Verified OK/);
  });

  it('signs an empty message (multi-part path) and it verifies', async () => {
    const { signature } = await svc.sign({ slotId, id: signerId, mechanism: 'SHA256_RSA_PKCS', data: '' });
    expect(
      createVerify('sha256').update(Buffer.alloc(0)).verify(signerPem, Buffer.from(signature, 'base64')),
    ).toBe(true);
  });

  it('refuses a key without the sign usage (a transport key) and a secret key', async () => {
    const e = await failure(
      svc.sign({ slotId, id: transportId, mechanism: 'SHA256_RSA_PKCS', data: b64(Buffer.from('x')) }),
    );
    expect(e.code).toBe('KEY_NOT_PERMITTED');
    const aes = await svc.generateKey({ slotId, type: 'aes-256', label: 'aes', purpose: 'data' });
    const e2 = await failure(
      svc.sign({ slotId, id: aes.id, mechanism: 'SHA256_RSA_PKCS', data: b64(Buffer.from('x')) }),
    );
    expect(e2.code).toBe('KEY_NOT_FOUND');
  });

  it('validates its parameters: an unknown mechanism is refused before the token is asked', async () => {
    const e = await failure(
      svc.sign({ slotId, id: signerId, mechanism: 'SHA1_RSA_PKCS' as never, data: b64(Buffer.from('x')) }),
    );
    expect(e.code).toBe('VALIDATION');
  });
});
