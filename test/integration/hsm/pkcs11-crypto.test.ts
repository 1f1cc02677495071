import { execFileSync } from 'node:child_process';
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHmac,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../electron/core/logger.nodejs';
import { aesCmacKcv, hmacKcv } from '../../../electron/crypto/kcv.nodejs';
import { pkcs11js as P } from '../../../electron/hsm/pkcs11/pkcs11.host';
import type { TokenEngine } from '../../../electron/hsm/pkcs11/token-engine.host';
import { failure } from '../../helpers/failure';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { createTrustedKek } from '../../helpers/trusted-kek';
import { hostTokenService } from '../../helpers/host-token-engine';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const b64 = (b: Buffer) => b.toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64');

// NIST SP 800-38A, F.2.5 CBC-AES256.Encrypt
const NIST_KEY = hex('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4');
/** AES-256-CBC with PKCS#7 padding under NIST_KEY, computed in software. */
const nistCbc = (iv: Uint8Array, data: Uint8Array): Buffer => {
  const c = createCipheriv('aes-256-cbc', NIST_KEY, iv);
  return Buffer.concat([c.update(data), c.final()]);
};
const NIST_IV = hex('000102030405060708090a0b0c0d0e0f');
const NIST_PLAIN = hex(`6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
  30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710`);
const NIST_CIPHER = hex(`f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d
  39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b`);

describe('PKCS#11 cryptography (real SoftHSM2, cross-checked with node:crypto, openssl and pkcs11-tool)', () => {
  let hsm: SoftHsmToken;
  let svc: TokenEngine;
  let slotId: number;
  let logFile: string;
  let nistId: string;
  let transportId: string;
  let transportPem: string;
  let rsaEncId: string;
  let rsaEncPem: string;
  const hmacValue = randomBytes(32);
  let hmacId: string;
  const kekValue = randomBytes(32);
  let kekId: string;

  beforeAll(async () => {
    hsm = createSoftHsmToken({ label: 'crypto-test' });
    slotId = hsm.slotId;
    logFile = join(hsm.dir, 'host.log');
    svc = hostTokenService({
      logger: createLogger({ name: 'host', file: logFile, level: 'debug', stderrLevel: 'silent' }),
    });
    await svc.loadModule({ path: hsm.modulePath });
    await svc.login({ slotId, pin: hsm.userPin });
    const nist = await svc.importKey({
      slotId,
      type: 'aes-256',
      label: 'nist',
      purpose: 'data',
      keyHex: NIST_KEY.toString('hex'),
    });
    nistId = nist.id;
    hmacId = (
      await svc.importKey({
        slotId,
        type: 'hmac-256',
        label: 'mac',
        purpose: 'hmac',
        keyHex: hmacValue.toString('hex'),
      })
    ).id;
    kekId = (
      await svc.importKey({
        slotId,
        type: 'aes-256',
        label: 'kek',
        purpose: 'kek',
        keyHex: kekValue.toString('hex'),
      })
    ).id;
    const transport = await svc.generateKey({
      slotId,
      type: 'rsa-2048',
      label: 'transport',
      purpose: 'gateway-transport',
    });
    transportId = transport.id;
    transportPem = (await svc.exportPublicKey({ slotId, id: transportId, format: 'pem' })).pem!;
    rsaEncId = (await svc.generateKey({ slotId, type: 'rsa-2048', label: 'rsa-enc', purpose: 'encryption' }))
      .id;
    rsaEncPem = (await svc.exportPublicKey({ slotId, id: rsaEncId, format: 'pem' })).pem!;
  });
  afterAll(async () => {
    await svc.unloadModule();
    hsm.cleanup();
  });

  it('imports a clear key and returns the KCV that software AES-CMAC predicts', async () => {
    expect(await svc.kcv({ slotId, id: nistId })).toEqual({ kcv: aesCmacKcv(NIST_KEY), method: 'cmac' });
    expect(await svc.kcv({ slotId, id: hmacId })).toEqual({ kcv: hmacKcv(hmacValue), method: 'hmac' });
    const obj = await svc.getObject({ slotId, id: nistId, class: 'secret' });
    // An imported key was once clear: never "always sensitive", but sensitive and not extractable now.
    expect(obj).toMatchObject({ sensitive: true, extractable: false, local: false, alwaysSensitive: false });
  });

  it('gives the software KCV for a known AES key written with pkcs11-tool', async () => {
    const value = randomBytes(32);
    const file = join(hsm.dir, 'aes.key');
    writeFileSync(file, value, { mode: 0o600 });
    execFileSync(
      'pkcs11-tool',
      [
        '--module',
        hsm.modulePath,
        '--slot',
        String(slotId),
        '--login',
        '--pin',
        hsm.userPin,
        '--write-object',
        file,
        '--type',
        'secrkey',
        '--key-type',
        'AES:32',
        '--label',
        'tool-known',
        '--id',
        'c0ffee',
      ],
      { env: hsm.env, stdio: 'ignore' },
    );
    expect(await svc.kcv({ slotId, id: 'c0ffee' })).toEqual({ kcv: aesCmacKcv(value), method: 'cmac' });
  });

  it('passes NIST SP 800-38A F.2.5 (CBC-AES256) through the imported key, both ways', async () => {
    const enc = await svc.encrypt({
      slotId,
      id: nistId,
      mechanism: 'AES_CBC',
      iv: b64(NIST_IV),
      data: b64(NIST_PLAIN),
    });
    expect(unb64(enc.data).toString('hex')).toBe(NIST_CIPHER.toString('hex'));
    const dec = await svc.decrypt({
      slotId,
      id: nistId,
      mechanism: 'AES_CBC',
      iv: b64(NIST_IV),
      data: b64(NIST_CIPHER),
    });
    expect(unb64(dec.data).equals(NIST_PLAIN)).toBe(true);
  });

  it('makes AES-CBC-PAD ciphertext that openssl enc -aes-256-cbc decrypts, and decrypts what openssl makes', async () => {
    const iv = randomBytes(16);
    const message = Buffer.from(JSON.stringify({ card_number: 'not-a-real-pan', note: 'é ✓' }));
    const enc = await svc.encrypt({
      slotId,
      id: nistId,
      mechanism: 'AES_CBC_PAD',
      iv: b64(iv),
      data: b64(message),
    });
    expect(unb64(enc.data).length % 16).toBe(0);
    const opensslArgs = ['-aes-256-cbc', '-K', NIST_KEY.toString('hex'), '-iv', iv.toString('hex')];
    const plain = execFileSync('openssl', ['enc', '-d', ...opensslArgs], { input: unb64(enc.data) });
    expect(plain.equals(message)).toBe(true);
    const fromOpenssl = execFileSync('openssl', ['enc', '-e', ...opensslArgs], { input: message });
    const dec = await svc.decrypt({
      slotId,
      id: nistId,
      mechanism: 'AES_CBC_PAD',
      iv: b64(iv),
      data: b64(fromOpenssl),
    });
    expect(unb64(dec.data).equals(message)).toBe(true);
  });

  it('refuses bad ciphertext and a missing IV with typed errors', async () => {
    const e = await failure(
      svc.decrypt({
        slotId,
        id: nistId,
        mechanism: 'AES_CBC_PAD',
        iv: b64(NIST_IV),
        data: b64(randomBytes(17)),
      }),
    );
    expect(['ENCRYPTED_DATA_INVALID', 'DATA_LEN_RANGE']).toContain(e.code);
    expect(e.details?.ckr).toMatch(/^CKR_/);
    expect(
      (await failure(svc.encrypt({ slotId, id: nistId, mechanism: 'AES_CBC_PAD', data: b64(NIST_PLAIN) })))
        .code,
    ).toBe('VALIDATION');
    // The data key has no wrap usage, so the KEK's job is refused.
    expect(
      (
        await failure(
          svc.encrypt({
            slotId,
            id: kekId,
            mechanism: 'AES_CBC_PAD',
            iv: b64(NIST_IV),
            data: b64(NIST_PLAIN),
          }),
        )
      ).code,
    ).toBe('KEY_NOT_PERMITTED');
  });

  it('decrypts on the token what node:crypto encrypted with the exported PEM (OAEP SHA-1 and PKCS#1 v1.5)', async () => {
    const secret = Buffer.from('4111111111111111');
    const oaep = publicEncrypt(
      { key: rsaEncPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      secret,
    );
    const d1 = await svc.decrypt({ slotId, id: rsaEncId, mechanism: 'RSA_OAEP_SHA1', data: b64(oaep) });
    expect(unb64(d1.data).equals(secret)).toBe(true);
    const pkcs1 = publicEncrypt({ key: rsaEncPem, padding: constants.RSA_PKCS1_PADDING }, secret);
    const d2 = await svc.decrypt({ slotId, id: rsaEncId, mechanism: 'RSA_PKCS', data: b64(pkcs1) });
    expect(unb64(d2.data).equals(secret)).toBe(true);
    // And the token's own public-key encryption round-trips.
    const e = await svc.encrypt({ slotId, id: rsaEncId, mechanism: 'RSA_OAEP_SHA1', data: b64(secret) });
    expect(unb64(e.data)).toHaveLength(256);
    expect(
      unb64(
        (await svc.decrypt({ slotId, id: rsaEncId, mechanism: 'RSA_OAEP_SHA1', data: e.data })).data,
      ).equals(secret),
    ).toBe(true);
  });

  it('never decrypts with a gateway transport key: wrapped keys stay inside the token', async () => {
    const ct = publicEncrypt(
      { key: transportPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      Buffer.alloc(32, 7),
    );
    const e = await failure(
      svc.decrypt({ slotId, id: transportId, mechanism: 'RSA_OAEP_SHA1', data: b64(ct) }),
    );
    expect(e.code).toBe('KEY_NOT_PERMITTED');
  });

  it('says MECHANISM_UNSUPPORTED for OAEP with SHA-256, which SoftHSM2 2.6 does not implement', async () => {
    const ct = publicEncrypt(
      { key: rsaEncPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from('x'),
    );
    const e = await failure(
      svc.decrypt({ slotId, id: rsaEncId, mechanism: 'RSA_OAEP_SHA256', data: b64(ct) }),
    );
    expect(e.code).toBe('MECHANISM_UNSUPPORTED');
    expect(e.message).toMatch(/RSA-OAEP with SHA-256/);
    expect(e.details).toMatchObject({ ckr: 'CKR_ARGUMENTS_BAD', mechanism: 'RSA_OAEP_SHA256' });
  });

  it('encrypts a batch in one call, each item with its own IV, matching node:crypto', async () => {
    const items = Array.from({ length: 200 }, (_, i) => ({ iv: randomBytes(16), data: randomBytes(i % 50) }));
    const result = await svc.encryptBatch({
      slotId,
      id: nistId,
      mechanism: 'AES_CBC_PAD',
      items: items.map((it) => ({ iv: b64(it.iv), data: b64(it.data) })),
    });
    expect(result.items).toHaveLength(200);
    result.items.forEach((ct, i) => {
      const c = createCipheriv('aes-256-cbc', NIST_KEY, items[i]!.iv);
      expect(ct).toBe(b64(Buffer.concat([c.update(items[i]!.data), c.final()])));
    });
    const bad = await failure(
      svc.encryptBatch({ slotId, id: nistId, mechanism: 'AES_CBC_PAD', items: [{ data: 'AAAA' }] }),
    );
    expect(bad.code).toBe('VALIDATION');
  });

  it('draws the IVs of a batch from the token when asked (tokenIvs), each ciphertext exact under its IV', async () => {
    // 300 items: two C_GenerateRandom calls (256 IVs per 4 KiB), the second a short one.
    const items = Array.from({ length: 300 }, (_, i) => ({ data: randomBytes(i % 40) }));
    const result = await svc.encryptBatch({
      slotId,
      id: nistId,
      mechanism: 'AES_CBC_PAD',
      items,
      output: 'binary',
      tokenIvs: true,
    });
    const ivs = Buffer.from(result.ivs as Uint8Array);
    expect(ivs).toHaveLength(300 * 16);
    expect(
      new Set(Array.from({ length: 300 }, (_, i) => ivs.toString('hex', i * 16, i * 16 + 16))).size,
    ).toBe(300);
    result.items.forEach((ct, i) =>
      expect(Buffer.from(ct as Uint8Array)).toEqual(
        nistCbc(ivs.subarray(i * 16, i * 16 + 16), items[i]!.data),
      ),
    );
    // base64 answers carry the IVs as base64 too.
    const text = await svc.encryptBatch({
      slotId,
      id: nistId,
      mechanism: 'AES_CBC_PAD',
      items: [{ data: b64(Buffer.from('x')) }],
      tokenIvs: true,
    });
    const iv = Buffer.from(text.ivs as string, 'base64');
    const c = createCipheriv('aes-256-cbc', NIST_KEY, iv);
    expect(text.items[0]).toBe(b64(Buffer.concat([c.update('x'), c.final()])));
    // An IV of the caller's with tokenIvs, or tokenIvs for RSA, is refused.
    const withIv = [{ iv: randomBytes(16), data: randomBytes(4) }];
    expect(
      (
        await failure(
          svc.encryptBatch({ slotId, id: nistId, mechanism: 'AES_CBC_PAD', items: withIv, tokenIvs: true }),
        )
      ).code,
    ).toBe('VALIDATION');
    expect(
      (
        await failure(
          svc.encryptBatch({
            slotId,
            id: rsaEncId,
            mechanism: 'RSA_OAEP_SHA1',
            items: [{ data: 'AA==' }],
            tokenIvs: true,
          }),
        )
      ).code,
    ).toBe('VALIDATION');
  });

  it('encrypts a large batch under a session copy of the key, each ciphertext exact, and leaves no copy', async () => {
    const { pkcs11, session } = svc._raw(slotId);
    const sessionObjects = () => {
      pkcs11.C_FindObjectsInit(session, [{ type: P.CKA_TOKEN, value: false }]);
      const found = pkcs11.C_FindObjects(session, 1000);
      pkcs11.C_FindObjectsFinal(session);
      return found.length;
    };
    const before = sessionObjects();
    // Lengths 0..2047 (empty and block-aligned payloads included) and a fresh IV each.
    const items = Array.from({ length: 2048 }, (_, i) => ({ iv: randomBytes(16), data: randomBytes(i) }));
    const result = await svc.encryptBatch({
      slotId,
      id: nistId,
      mechanism: 'AES_CBC_PAD',
      items,
      output: 'binary',
    });
    expect(result.keyCopy).toBe(true);
    result.items.forEach((ct, i) =>
      expect(Buffer.from(ct as Uint8Array)).toEqual(nistCbc(items[i]!.iv, items[i]!.data)),
    );
    expect(sessionObjects()).toBe(before);
    // A batch that fails half-way destroys its copy too.
    const bad = [...items.slice(0, 100), { data: randomBytes(4) }];
    expect(
      (
        await failure(
          svc.encryptBatch({ slotId, id: nistId, mechanism: 'AES_CBC_PAD', items: bad, output: 'binary' }),
        )
      ).code,
    ).toBe('VALIDATION');
    expect(sessionObjects()).toBe(before);
  });

  it('uses a key the token will not copy as it is', async () => {
    const { pkcs11, session } = svc._raw(slotId);
    const clear = randomBytes(32);
    const id = randomBytes(4);
    const handle = pkcs11.C_CreateObject(session, [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
      { type: P.CKA_TOKEN, value: false },
      { type: P.CKA_ID, value: id },
      { type: P.CKA_LABEL, value: 'no-copy' },
      { type: P.CKA_ENCRYPT, value: true },
      { type: P.CKA_COPYABLE, value: false },
      { type: P.CKA_VALUE, value: clear },
    ]);
    try {
      const items = Array.from({ length: 64 }, (_, i) => ({ iv: randomBytes(16), data: randomBytes(i * 3) }));
      const result = await svc.encryptBatch({
        slotId,
        id: id.toString('hex'),
        mechanism: 'AES_CBC_PAD',
        items,
        output: 'binary',
      });
      expect(result.keyCopy).toBe(false);
      result.items.forEach((ct, i) => {
        const c = createCipheriv('aes-256-cbc', clear, items[i]!.iv);
        expect(
          Buffer.from(ct as Uint8Array).equals(Buffer.concat([c.update(items[i]!.data), c.final()])),
        ).toBe(true);
      });
    } finally {
      pkcs11.C_DestroyObject(session, handle);
    }
  });

  it('signs and verifies HMAC-SHA256 on the token, equal to node:crypto', async () => {
    const data = Buffer.from('set-1.iv.ciphertext');
    const { mac } = await svc.hmacSign({ slotId, id: hmacId, data: b64(data) });
    expect(mac).toBe(b64(createHmac('sha256', hmacValue).update(data).digest()));
    expect(await svc.hmacVerify({ slotId, id: hmacId, data: b64(data), mac })).toEqual({ valid: true });
    const tampered = unb64(mac);
    tampered[0]! ^= 1;
    expect(await svc.hmacVerify({ slotId, id: hmacId, data: b64(data), mac: b64(tampered) })).toEqual({
      valid: false,
    });
    expect(
      await svc.hmacVerify({ slotId, id: hmacId, data: b64(data), mac: b64(tampered.subarray(0, 8)) }),
    ).toEqual({ valid: false });
  });

  it('unwraps a gateway key set (enc_key AES, mac_key HMAC) sent under RSA-OAEP SHA-1 as session keys with the right KCVs', async () => {
    const encKey = randomBytes(32);
    const macKey = randomBytes(32);
    const wrap = (k: Buffer) =>
      b64(
        publicEncrypt({ key: transportPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, k),
      );
    const enc = await svc.unwrapKey({
      slotId,
      unwrappingKeyId: transportId,
      mechanism: 'RSA_OAEP_SHA1',
      wrapped: wrap(encKey),
      keyType: 'aes-256',
      label: 'set-1 enc',
      token: false,
    });
    const mac = await svc.unwrapKey({
      slotId,
      unwrappingKeyId: transportId,
      mechanism: 'RSA_OAEP_SHA1',
      wrapped: wrap(macKey),
      keyType: 'hmac-256',
      label: 'set-1 mac',
      token: false,
      id: 'aabbccdd',
    });
    expect(enc).toMatchObject({ keyType: 'aes-256', token: false, kcv: aesCmacKcv(encKey), method: 'cmac' });
    expect(mac).toEqual({
      id: 'aabbccdd',
      keyType: 'hmac-256',
      token: false,
      kcv: hmacKcv(macKey),
      method: 'hmac',
    });
    const encObj = await svc.getObject({ slotId, id: enc.id, class: 'secret' });
    expect(encObj).toMatchObject({
      token: false,
      sensitive: true,
      extractable: false,
      usages: ['encrypt', 'decrypt', 'sign'],
    });
    expect((await svc.getObject({ slotId, id: 'aabbccdd', class: 'secret' })).usages).toEqual([
      'sign',
      'verify',
    ]);
    // The unwrapped key is the gateway's key: a message it encrypts decrypts in software.
    const iv = randomBytes(16);
    const body = Buffer.from('{"op":"ping"}');
    const ct = unb64(
      (await svc.encrypt({ slotId, id: enc.id, mechanism: 'AES_CBC_PAD', iv: b64(iv), data: b64(body) }))
        .data,
    );
    const d = createDecipheriv('aes-256-cbc', encKey, iv);
    expect(Buffer.concat([d.update(ct), d.final()]).equals(body)).toBe(true);
    // One use, then gone.
    await svc.destroyObject({ slotId, id: enc.id, class: 'secret', confirm: true });
    await svc.destroyObject({ slotId, id: 'aabbccdd', class: 'secret', confirm: true });
    // A 16-byte key is not what the contract sends, but SoftHSM2 2.6 reports CKA_VALUE_LEN 0 for
    // unwrapped keys, so the service cannot see the length: the KCV is what tells it apart.
    const shortValue = randomBytes(16);
    const short = await svc.unwrapKey({
      slotId,
      unwrappingKeyId: transportId,
      mechanism: 'RSA_OAEP_SHA1',
      wrapped: wrap(shortValue),
      keyType: 'aes-256',
      label: 'short',
      token: false,
    });
    expect(short.kcv).toBe(aesCmacKcv(shortValue));
    expect(short.kcv).not.toBe(aesCmacKcv(encKey));
    expect((await svc.getObject({ slotId, id: short.id, class: 'secret' })).bits).toBeNull();
    await svc.destroyObject({ slotId, id: short.id, class: 'secret', confirm: true });
    // Garbage under the right key.
    expect(
      (
        await failure(
          svc.unwrapKey({
            slotId,
            unwrappingKeyId: transportId,
            mechanism: 'RSA_OAEP_SHA1',
            wrapped: b64(randomBytes(256)),
            keyType: 'aes-256',
            label: 'junk',
            token: false,
          }),
        )
      ).code,
    ).toMatch(/KEY_UNWRAPPABLE|ENCRYPTED_DATA_INVALID/);
    // SHA-256 OAEP unwrap is what SoftHSM2 2.6 lacks.
    const sha256 = b64(
      publicEncrypt(
        { key: transportPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        encKey,
      ),
    );
    expect(
      (
        await failure(
          svc.unwrapKey({
            slotId,
            unwrappingKeyId: transportId,
            mechanism: 'RSA_OAEP_SHA256',
            wrapped: sha256,
            keyType: 'aes-256',
            label: 'x',
            token: false,
          }),
        )
      ).code,
    ).toBe('MECHANISM_UNSUPPORTED');
  });

  it('wraps an exportable key under a trusted KEK with AES key wrap (RFC 3394 / 5649) and unwraps it again', async () => {
    const data = await svc.generateKey({
      slotId,
      type: 'aes-256',
      label: 'backup me',
      purpose: 'data',
      exportable: true,
    });
    // The security officer's wrap-only escrow KEK, holding the same value as the user's KEK that
    // restores (unwraps) on the way back in.
    const trustedId = 'e5c0';
    createTrustedKek(hsm, slotId, { idHex: trustedId, label: 'escrow kek', value: kekValue });
    for (const [mechanism, cipher, iv] of [
      ['AES_KEY_WRAP', 'id-aes256-wrap', hex('a6a6a6a6a6a6a6a6')],
      ['AES_KEY_WRAP_PAD', 'id-aes256-wrap-pad', hex('a65959a6')],
    ] as const) {
      const { wrapped } = await svc.wrapKey({ slotId, wrappingKeyId: trustedId, keyId: data.id, mechanism });
      const d = createDecipheriv(cipher, kekValue, iv);
      const clear = Buffer.concat([d.update(unb64(wrapped)), d.final()]);
      expect(aesCmacKcv(clear)).toBe(data.kcv!.kcv);
      const back = await svc.unwrapKey({
        slotId,
        unwrappingKeyId: kekId,
        mechanism,
        wrapped,
        keyType: 'aes-256',
        label: 'restored',
        token: true,
      });
      expect(back.kcv).toBe(data.kcv!.kcv);
      expect((await svc.getObject({ slotId, id: back.id, class: 'secret' })).token).toBe(true);
    }
    // Not under the user's own KEK, nor under the RSA transport key: neither is trusted.
    for (const [wrappingKeyId, mechanism] of [
      [kekId, 'AES_KEY_WRAP'],
      [transportId, 'RSA_OAEP_SHA1'],
    ] as const) {
      const untrusted = await failure(svc.wrapKey({ slotId, wrappingKeyId, keyId: data.id, mechanism }));
      expect(untrusted.code).toBe('KEY_WRAP_UNTRUSTED');
    }
    // A key that must never leave cannot be wrapped, not even under the trusted KEK.
    const e = await failure(
      svc.wrapKey({ slotId, wrappingKeyId: trustedId, keyId: nistId, mechanism: 'AES_KEY_WRAP' }),
    );
    expect(e.code).toBe('KEY_NOT_EXTRACTABLE');
  });

  it('handles empty messages (CBC-PAD, HMAC) without leaving the session stuck', async () => {
    const iv = randomBytes(16);
    const enc = await svc.encrypt({ slotId, id: nistId, mechanism: 'AES_CBC_PAD', iv: b64(iv), data: '' });
    const c = createCipheriv('aes-256-cbc', NIST_KEY, iv);
    expect(enc.data).toBe(b64(Buffer.concat([c.update(Buffer.alloc(0)), c.final()])));
    expect(
      (await svc.decrypt({ slotId, id: nistId, mechanism: 'AES_CBC_PAD', iv: b64(iv), data: enc.data })).data,
    ).toBe('');
    const { mac } = await svc.hmacSign({ slotId, id: hmacId, data: '' });
    expect(mac).toBe(b64(createHmac('sha256', hmacValue).digest()));
    expect(await svc.hmacVerify({ slotId, id: hmacId, data: '', mac })).toEqual({ valid: true });
    expect(await svc.hmacVerify({ slotId, id: hmacId, data: '', mac: '' })).toEqual({ valid: false });
    expect(
      (await failure(svc.decrypt({ slotId, id: nistId, mechanism: 'AES_CBC_PAD', iv: b64(iv), data: '' })))
        .code,
    ).toBe('ENCRYPTED_DATA_INVALID');
    const batch = await svc.encryptBatch({
      slotId,
      id: nistId,
      mechanism: 'AES_CBC_PAD',
      items: [{ iv: b64(iv), data: '' }],
    });
    expect(batch.items).toEqual([enc.data]);
  });

  it('recovers a session that a library left with an active operation, keeping session keys', async () => {
    const value = randomBytes(32);
    const sessionKey = await svc.unwrapKey({
      slotId,
      unwrappingKeyId: transportId,
      mechanism: 'RSA_OAEP_SHA1',
      wrapped: b64(
        publicEncrypt(
          { key: transportPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
          value,
        ),
      ),
      keyType: 'aes-256',
      label: 'survivor',
      token: false,
    });
    const { pkcs11, session, find } = svc._raw(slotId);
    // Leave an encryption half-done, as a buggy library or an interrupted call would.
    pkcs11.C_EncryptInit(session, { mechanism: 0x1085, parameter: randomBytes(16) }, find(nistId, 'secret'));
    expect(() => pkcs11.C_FindObjectsInit(session, [])).toThrow(/CKR_OPERATION_ACTIVE/);
    const objects = await svc.listObjects({ slotId, class: 'secret' });
    expect(objects.some((o) => o.id === sessionKey.id)).toBe(true);
    expect(await svc.kcv({ slotId, id: sessionKey.id })).toEqual({ kcv: aesCmacKcv(value), method: 'cmac' });
    expect(readFileSync(logFile, 'utf8')).toContain('continuing on a fresh session');
    await svc.destroyObject({ slotId, id: sessionKey.id, class: 'secret', confirm: true });
  });

  it('generates random bytes on the token', async () => {
    const a = unb64((await svc.generateRandom({ slotId, length: 32 })).data);
    const b = unb64((await svc.generateRandom({ slotId, length: 32 })).data);
    expect(a).toHaveLength(32);
    expect(a.equals(b)).toBe(false);
    expect((await failure(svc.generateRandom({ slotId, length: 0 }))).code).toBe('VALIDATION');
  });

  it('probes what the token really does, on session objects it leaves nothing of', async () => {
    const before = await svc.listObjects({ slotId });
    const caps = await svc.probeCapabilities({ slotId });
    expect(caps.cacheKey).toBe('SoftHSM project|SoftHSM v2|2.6');
    expect(caps.token).toEqual({ manufacturer: 'SoftHSM project', model: 'SoftHSM v2', firmware: '2.6' });
    const supported = Object.entries(caps.capabilities)
      .filter(([, c]) => c.supported)
      .map(([n]) => n)
      .sort();
    expect(supported).toEqual(
      [
        'aes256Generate',
        'aesCbcPad',
        'aesCmac',
        'aesKeyWrap',
        'aesKeyWrapPad',
        'hmacSha256',
        'random',
        'rsa2048Generate',
        'rsa3072Generate',
        'rsa4096Generate',
        'rsaOaepSha1Encrypt',
        'rsaOaepSha1Unwrap',
        'rsaPkcs1Encrypt',
        'rsaSha256Sign',
        // Keeps CKA_WRAP_WITH_TRUSTED, refuses CKA_TRUSTED from the user, and wraps no such key
        // under an ordinary KEK: exportable keys may be made here.
        'wrapWithTrusted',
      ].sort(),
    );
    // Found by trying, with a reason a support engineer can act on.
    expect(caps.capabilities.rsaOaepSha256Unwrap).toEqual({
      supported: false,
      reason: 'the token refuses the parameters of this algorithm',
      detail: 'CKR_ARGUMENTS_BAD',
    });
    // SoftHSM2's CKM_AES_KEY_WRAP_PAD is RFC 5649; it has no CKM_AES_KEY_WRAP_KWP.
    expect(caps.capabilities.aesKeyWrapPad).toEqual({ supported: true, mechanism: '0x210a' });
    expect(caps.objects).toBe('session');
    expect(caps.capabilities.rsaOaepSha256Encrypt.supported).toBe(false);
    expect(caps.bestOaepUnwrap).toBe('RSA_OAEP_SHA1');
    expect(await svc.listObjects({ slotId })).toEqual(before);
  });

  it('never logs key material, plaintext or PINs', () => {
    const log = readFileSync(logFile, 'utf8');
    expect(log).toContain('Key imported');
    for (const secret of [
      NIST_KEY.toString('hex'),
      hmacValue.toString('hex'),
      kekValue.toString('hex'),
      hsm.userPin,
      '4111111111111111',
    ]) {
      expect(log).not.toContain(secret);
    }
  });
});
