import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pkcs11js as P } from '../../../electron/hsm/pkcs11/pkcs11.host';
import type { GenerateKeyResult, ObjectInfo } from '../../../shared/tokens.std';
import { failure } from '../../helpers/failure';
import { parsePkcs11ToolObjects } from '../../helpers/pkcs11-tool';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { hostTokenService } from '../../helpers/host-token-engine';

describe('PKCS#11 keys and objects (real SoftHSM2, cross-checked with OpenSC pkcs11-tool)', () => {
  let hsm: SoftHsmToken;
  const svc = hostTokenService();
  let slotId: number;
  const tool = (...args: string[]) =>
    execFileSync(
      'pkcs11-tool',
      ['--module', hsm.modulePath, '--slot', String(slotId), '--login', '--pin', hsm.userPin, ...args],
      { env: hsm.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
  const toolObjects = () => parsePkcs11ToolObjects(tool('--list-objects'));

  let aes: GenerateKeyResult;
  let kek: GenerateKeyResult;
  let hmac: GenerateKeyResult;
  let transport: GenerateKeyResult;
  let signing: GenerateKeyResult;

  beforeAll(async () => {
    hsm = createSoftHsmToken({ label: 'keys-test' });
    slotId = hsm.slotId;
    await svc.loadModule({ path: hsm.modulePath });
    await svc.login({ slotId, pin: hsm.userPin });
    aes = await svc.generateKey({ slotId, type: 'aes-256', label: 'merchant data', purpose: 'data' });
    kek = await svc.generateKey({ slotId, type: 'aes-256', label: 'merchant kek', purpose: 'kek' });
    hmac = await svc.generateKey({ slotId, type: 'hmac-256', label: 'audit mac', purpose: 'audit' });
    transport = await svc.generateKey({
      slotId,
      type: 'rsa-2048',
      label: 'gateway transport',
      purpose: 'gateway-transport',
    });
    signing = await svc.generateKey({ slotId, type: 'rsa-2048', label: 'csr signing', purpose: 'signing' });
  });
  afterAll(async () => {
    await svc.unloadModule();
    hsm.cleanup();
  });

  const neverLeaves = {
    token: true,
    private: true,
    local: true,
    sensitive: true,
    extractable: false,
    alwaysSensitive: true,
    neverExtractable: true,
  };

  it('generates secret keys with safe attributes, only the usages the purpose needs, a random 16-byte ID and a KCV', () => {
    expect(aes.id).toMatch(/^[0-9a-f]{32}$/);
    expect(kek.id).not.toBe(aes.id);
    expect(aes.objects).toEqual([
      {
        id: aes.id,
        class: 'secret',
        label: 'merchant data',
        keyType: 'aes',
        bits: 256,
        ...neverLeaves,
        usages: ['encrypt', 'decrypt', 'sign'],
      },
    ]);
    expect(kek.objects[0]).toMatchObject({ ...neverLeaves, usages: ['wrap', 'unwrap', 'sign'] });
    expect(hmac.objects[0]).toMatchObject({
      keyType: 'generic-secret',
      bits: 256,
      ...neverLeaves,
      usages: ['sign', 'verify'],
    });
    expect(aes.kcv).toMatchObject({ method: 'cmac', kcv: expect.stringMatching(/^[0-9a-f]{6}$/) });
    expect(hmac.kcv?.method).toBe('hmac');
  });

  it('generates RSA key pairs: private half unwrap (or sign) only, public half nothing (or verify)', () => {
    const [priv, pub] = transport.objects;
    expect(priv).toEqual({
      id: transport.id,
      class: 'private',
      label: 'gateway transport',
      keyType: 'rsa',
      bits: 2048,
      ...neverLeaves,
      usages: ['unwrap'],
    });
    expect(pub).toMatchObject({
      id: transport.id,
      class: 'public',
      keyType: 'rsa',
      bits: 2048,
      token: true,
      private: false,
      usages: [],
    });
    expect(signing.objects.map((o) => o.usages)).toEqual([['sign'], ['verify']]);
    expect(transport.spkiSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('pkcs11-tool sees the same attributes on the keys mkm made', () => {
    const objs = toolObjects();
    const find = (id: string, kind: RegExp) => objs.find((o) => o.ID === id && kind.test(o.kind!));
    const secret = find(aes.id, /^Secret Key Object; AES length 32/);
    expect(secret).toMatchObject({
      label: 'merchant data',
      Access: 'sensitive, always sensitive, never extractable, local',
    });
    expect(secret!.Usage).toBe('encrypt, decrypt');
    expect(find(kek.id, /^Secret Key/)!.Usage).toBe('wrap, unwrap');
    const priv = find(transport.id, /^Private Key Object; RSA/);
    expect(priv).toMatchObject({ label: 'gateway transport', Usage: 'unwrap' });
    expect(priv!.Access).toBe('sensitive, always sensitive, never extractable, local');
    expect(find(transport.id, /^Public Key Object; RSA 2048 bits/)!.Usage).toBe('none');
    expect(find(signing.id, /^Private Key Object/)!.Usage).toBe('sign');
  });

  it('keys mkm made cannot be read out with pkcs11-tool; the public key can, and matches the exported SPKI', async () => {
    expect(() => tool('--read-object', '--type', 'secrkey', '--id', aes.id)).toThrow(
      /CKR_ATTRIBUTE_SENSITIVE/,
    );
    // pkcs11-tool writes nothing for a private key whose value is not readable.
    let privOut: Buffer;
    try {
      privOut = execFileSync(
        'pkcs11-tool',
        [
          '--module',
          hsm.modulePath,
          '--slot',
          String(slotId),
          '--login',
          '--pin',
          hsm.userPin,
          '--read-object',
          '--type',
          'privkey',
          '--id',
          transport.id,
        ],
        { env: hsm.env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
    } catch {
      privOut = Buffer.alloc(0);
    }
    expect(privOut.length).toBe(0);
    const der = execFileSync(
      'pkcs11-tool',
      [
        '--module',
        hsm.modulePath,
        '--slot',
        String(slotId),
        '--read-object',
        '--type',
        'pubkey',
        '--id',
        transport.id,
      ],
      { env: hsm.env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const spki = createPublicKey({ key: der, format: 'der', type: 'spki' }).export({
      type: 'spki',
      format: 'der',
    });
    expect(createHash('sha256').update(spki).digest('hex')).toBe(transport.spkiSha256);
  });

  it('lists keys that pkcs11-tool generated, with their attributes', async () => {
    tool('--keygen', '--key-type', 'AES:32', '--label', 'tool-aes', '--id', '0102', '--sensitive');
    tool('--keypairgen', '--key-type', 'rsa:2048', '--label', 'tool-rsa', '--id', '0304', '--usage-sign');
    const all = await svc.listObjects({ slotId });
    const toolAes = all.find((o) => o.id === '0102')!;
    expect(toolAes).toMatchObject({
      class: 'secret',
      label: 'tool-aes',
      keyType: 'aes',
      bits: 256,
      sensitive: true,
      local: true,
      token: true,
    });
    const toolRsa = all.filter((o) => o.id === '0304');
    expect(toolRsa.map((o) => o.class).sort()).toEqual(['private', 'public']);
    expect(toolRsa.find((o) => o.class === 'private')).toMatchObject({
      keyType: 'rsa',
      bits: 2048,
      label: 'tool-rsa',
    });
    expect(toolRsa.find((o) => o.class === 'private')!.usages).toContain('sign');
    expect(await svc.listObjects({ slotId, class: 'public' })).toHaveLength(3);
  });

  it('lists data objects and certificates by class', async () => {
    const file = join(hsm.dir, 'note.bin');
    writeFileSync(file, 'hello');
    tool('--write-object', file, '--type', 'data', '--label', 'note', '--id', 'aa');
    const data = await svc.listObjects({ slotId, class: 'data' });
    expect(data).toEqual([
      expect.objectContaining({ class: 'data', label: 'note', keyType: null, bits: null }),
    ]);
  });

  it('gets one object by ID and class, and says KEY_NOT_FOUND otherwise', async () => {
    expect(await svc.getObject({ slotId, id: aes.id, class: 'secret' })).toEqual(aes.objects[0]);
    expect(await svc.getObject({ slotId, id: transport.id.toUpperCase(), class: 'public' })).toEqual(
      transport.objects[1],
    );
    expect((await failure(svc.getObject({ slotId, id: aes.id, class: 'private' }))).code).toBe(
      'KEY_NOT_FOUND',
    );
    expect((await failure(svc.getObject({ slotId, id: 'deadbeef', class: 'secret' }))).code).toBe(
      'KEY_NOT_FOUND',
    );
  });

  it('refuses a key type that does not fit the purpose, and export of keys that must never leave', async () => {
    expect(
      (await failure(svc.generateKey({ slotId, type: 'aes-256', label: 'x', purpose: 'hmac' }))).code,
    ).toBe('VALIDATION');
    expect(
      (await failure(svc.generateKey({ slotId, type: 'rsa-2048', label: 'x', purpose: 'data' }))).code,
    ).toBe('VALIDATION');
    expect(
      (
        await failure(
          svc.generateKey({ slotId, type: 'aes-256', label: 'x', purpose: 'kek', exportable: true }),
        )
      ).code,
    ).toBe('VALIDATION');
    const exportable = await svc.generateKey({
      slotId,
      type: 'aes-256',
      label: 'backup-able',
      purpose: 'data',
      exportable: true,
    });
    expect(exportable.objects[0]).toMatchObject({
      sensitive: true,
      extractable: true,
      neverExtractable: false,
    });
  });

  it('exports the public key as SPKI PEM and as JWK with the same fingerprint', async () => {
    const pem = await svc.exportPublicKey({ slotId, id: transport.id, format: 'pem' });
    expect(pem.pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const key = createPublicKey(pem.pem!);
    const der = key.export({ type: 'spki', format: 'der' });
    expect(pem.spkiSha256).toBe(createHash('sha256').update(der).digest('hex'));
    expect(pem.spkiSha256).toBe(transport.spkiSha256);
    expect(pem.bits).toBe(2048);
    const jwk = await svc.exportPublicKey({ slotId, id: transport.id, format: 'jwk' });
    expect(jwk.jwk).toMatchObject({ kty: 'RSA', e: 'AQAB', kid: transport.id });
    expect(
      createPublicKey({ key: { ...jwk.jwk! }, format: 'jwk' }).export({ type: 'spki', format: 'pem' }),
    ).toBe(pem.pem);
    // A key pair made by another tool exports too.
    expect((await svc.exportPublicKey({ slotId, id: '0304', format: 'pem' })).bits).toBe(2048);
    expect((await failure(svc.exportPublicKey({ slotId, id: aes.id, format: 'pem' }))).code).toBe(
      'KEY_NOT_FOUND',
    );
  });

  it('creates a CSR signed on the token that openssl verifies', async () => {
    const csr = await svc.createCsr({
      slotId,
      id: signing.id,
      subject: {
        commonName: 'merchant-4711.example',
        organization: 'Example Shop GmbH',
        country: 'DE',
        organizationalUnit: 'Payments',
      },
    });
    const file = join(hsm.dir, 'req.pem');
    writeFileSync(file, csr.pem);
    const out = execFileSync('openssl', ['req', '-in', file, '-verify', '-noout', '-subject'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toMatch(/CN\s*=\s*merchant-4711\.example/);
    expect(out).toMatch(/O\s*=\s*Example Shop GmbH/);
    expect(out).toMatch(/C\s*=\s*DE/);
    const text = execFileSync('openssl', ['req', '-in', file, '-noout', '-text', '-verify'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(text).toMatch(/sha256WithRSAEncryption/);
    const pubFromCsr = execFileSync('openssl', ['req', '-in', file, '-noout', '-pubkey'], {
      encoding: 'utf8',
    });
    expect(
      createHash('sha256')
        .update(createPublicKey(pubFromCsr).export({ type: 'spki', format: 'der' }))
        .digest('hex'),
    ).toBe(csr.spkiSha256);
    expect(csr.spkiSha256).toBe(signing.spkiSha256);
    // A transport key may only decrypt and unwrap: no signing, not even a CSR.
    expect(
      (await failure(svc.createCsr({ slotId, id: transport.id, subject: { commonName: 'x' } }))).code,
    ).toBe('KEY_NOT_PERMITTED');
  });

  it('destroys an object only with confirm: true', async () => {
    const victim = await svc.generateKey({ slotId, type: 'hmac-256', label: 'victim', purpose: 'hmac' });
    const e = await failure(svc.destroyObject({ slotId, id: victim.id, class: 'secret' }));
    expect(e.code).toBe('CONFIRMATION_REQUIRED');
    expect(
      (await failure(svc.destroyObject({ slotId, id: victim.id, class: 'secret', confirm: false }))).code,
    ).toBe('CONFIRMATION_REQUIRED');
    expect(await svc.getObject({ slotId, id: victim.id, class: 'secret' })).toBeTruthy();
    expect(await svc.destroyObject({ slotId, id: victim.id, class: 'secret', confirm: true })).toEqual({
      destroyed: 1,
    });
    expect((await failure(svc.getObject({ slotId, id: victim.id, class: 'secret' }))).code).toBe(
      'KEY_NOT_FOUND',
    );
    expect(toolObjects().some((o) => o.ID === victim.id)).toBe(false);
  });

  it('lists 10,000 objects quickly (one attribute call per object)', async () => {
    const { pkcs11, session } = svc._raw(slotId);
    const handles = [];
    for (let i = 0; i < 10_000; i++) {
      handles.push(
        pkcs11.C_CreateObject(session, [
          { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
          { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
          { type: P.CKA_TOKEN, value: false },
          { type: P.CKA_VALUE, value: randomBytes(32) },
          { type: P.CKA_ID, value: Buffer.from(i.toString(16).padStart(8, '0'), 'hex') },
          { type: P.CKA_LABEL, value: `bulk ${i}` },
        ]),
      );
    }
    try {
      const list: ObjectInfo[] = await svc.listObjects({ slotId, class: 'secret' });
      expect(list.length).toBeGreaterThanOrEqual(10_000);
      expect(list.find((o) => o.label === 'bulk 9999')).toMatchObject({
        id: '0000270f',
        keyType: 'aes',
        bits: 256,
        token: false,
      });
      // How fast it is, against pkcs11-tool, is bench/hsm-list.bench.ts's to say, not a test's.
    } finally {
      for (const h of handles) pkcs11.C_DestroyObject(session, h);
    }
  });
});
