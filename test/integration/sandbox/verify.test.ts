import {
  constants,
  createHash,
  createPublicKey,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle } from '../../../electron/gateway/sandbox/server.nodejs';
import { findSecrets } from '../../helpers/scan';
import { call, login, manualClock, salt, tagOf } from './client';

const GRACE = 3600;
const LIMIT = 12;
let sb: SandboxHandle;
let dir: string;
const clock = manualClock();
let token: string;
let gatewayKey: KeyObject;
let gatewayKeyId: string;

const pkcs1 = (key: KeyObject, value: string) =>
  publicEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(value, 'utf8')).toString('base64');
const oaep = (key: KeyObject, value: string) =>
  publicEncrypt(
    { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    Buffer.from(value),
  ).toString('base64');
/** Raw RSA over a hand-built encoded message, to present paddings a library would not make. */
const rawRsa = (key: KeyObject, em: Buffer) =>
  publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, em).toString('base64');
/** EME-PKCS1-v1_5 by hand: 00 || type || PS || 00 || M, PS filling the block up to 256 bytes. */
function em(
  message: string,
  { type = 0x02, separator = true, psLength }: { type?: number; separator?: boolean; psLength?: number } = {},
): Buffer {
  const m = Buffer.from(message);
  const ps = nonzero(psLength ?? 256 - 3 - m.length);
  const block = Buffer.concat([Buffer.from([0x00, type]), ps, Buffer.from(separator ? [0] : []), m]);
  if (block.length !== 256) throw new Error(`test block is ${block.length} bytes`);
  return block;
}
const nonzero = (n: number) => Buffer.from(Array.from(randomBytes(n), (b) => b || 1));

async function verify(body: Record<string, unknown>) {
  return call(sb, 'POST', '/v1/encryption/verify', { token, json: body });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mkm-sb-verify-'));
  sb = await startSandbox({
    port: 0,
    dataDir: dir,
    users: [{ name: 'merchant', password: 'pw' }],
    publicKeyGraceSeconds: GRACE,
    verifyRateLimit: { max: LIMIT, windowSeconds: 60 },
    // The clock jumps a minute per test and past the grace period; the token must outlive that.
    tokenTtlSeconds: 30 * 86_400,
    clock: clock.now,
  });
  token = await login(sb, 'merchant', 'pw');
  const r = await call(sb, 'GET', '/v1/encryption/public_key', { token });
  expect(r.status).toBe(200);
  gatewayKey = createPublicKey(r.body.pem);
  gatewayKeyId = r.body.key_id;
});

afterAll(async () => {
  await sb?.close();
  rmSync(dir, { recursive: true, force: true });
});

// Each test starts with a fresh rate-limit window.
beforeEach(() => clock.advance(61));

describe('GET /v1/encryption/public_key', () => {
  it('serves an RSA-2048 key whose fingerprint is the SHA-256 of its SPKI', async () => {
    const r = await call(sb, 'GET', '/v1/encryption/public_key', { token });
    expect(r.body).toMatchObject({ key_id: gatewayKeyId, padding: 'RSAES-OAEP-SHA256', previous: [] });
    const spki = gatewayKey.export({ type: 'spki', format: 'der' });
    expect(r.body.spki_sha256).toBe(createHash('sha256').update(spki).digest('hex'));
    expect(gatewayKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(r.text).not.toMatch(/PRIVATE/);
  });

  it('needs a bearer token', async () => {
    const r = await call(sb, 'GET', '/v1/encryption/public_key');
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('UNAUTHORIZED');
  });
});

describe('POST /v1/encryption/verify', () => {
  const values = {
    encrypted_number: '4111111111111111',
    encrypted_csc: '737',
    encrypted_expiration: '12/29',
    encrypted_account_number: '000123456789',
    encrypted_routing_number: '021000021',
    encrypted_swipe: '%B4111111111111111^DOE/JANE^2912101?',
  };

  it.each([
    ['RSAES-PKCS1-V1_5', pkcs1],
    ['RSAES-OAEP-SHA256', oaep],
  ] as const)(
    'decrypts every field under %s and says only what the contract allows',
    async (padding, enc) => {
      const s = salt();
      const fields = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, enc(gatewayKey, v)]));
      const r = await verify({ padding, salt: s, fields });
      expect(r.status).toBe(200);
      expect(r.body.fields).toEqual({
        encrypted_number: {
          decrypted: true,
          length: 16,
          last4: '1111',
          tag: tagOf(s, values.encrypted_number),
          luhn_ok: true,
        },
        encrypted_csc: { decrypted: true, length: 3 },
        encrypted_expiration: { decrypted: true, length: 5 },
        encrypted_account_number: {
          decrypted: true,
          length: 12,
          last4: '6789',
          tag: tagOf(s, values.encrypted_account_number),
        },
        encrypted_routing_number: {
          decrypted: true,
          length: 9,
          tag: tagOf(s, values.encrypted_routing_number),
          aba_ok: true,
        },
        encrypted_swipe: { decrypted: true, length: values.encrypted_swipe.length },
      });
      // Tags are random-looking hex and may contain a short value's digits by chance.
      const untagged = r.text.replace(/"tag":"[0-9a-f]{64}"/g, '');
      for (const v of Object.values(values)) expect(untagged).not.toContain(v);
    },
  );

  it('fails a tampered field with DECRYPT_FAILED and still answers the others', async () => {
    const tampered = Buffer.from(pkcs1(gatewayKey, '4111111111111111'), 'base64');
    tampered[100]! ^= 0x01;
    const r = await verify({
      padding: 'RSAES-PKCS1-V1_5',
      salt: salt(),
      fields: {
        encrypted_number: tampered.toString('base64'),
        encrypted_csc: pkcs1(gatewayKey, '123'),
        encrypted_routing_number: pkcs1(gatewayKey, '021000022'),
      },
    });
    expect(r.status).toBe(200);
    expect(r.body.fields.encrypted_number).toEqual({ decrypted: false, error: 'DECRYPT_FAILED' });
    expect(r.body.fields.encrypted_csc).toEqual({ decrypted: true, length: 3 });
    expect(r.body.fields.encrypted_routing_number).toMatchObject({ decrypted: true, aba_ok: false });
    // The oracle is audited: who, which key, which fields failed; never a value.
    const { readFileSync } = await import('node:fs');
    const audit = readFileSync(join(dir, 'sandbox.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((rec) => rec.msg === 'verify')
      .at(-1);
    expect(audit).toMatchObject({
      user: 'merchant',
      key_id: gatewayKeyId,
      padding: 'RSAES-PKCS1-V1_5',
      decrypted: ['encrypted_csc', 'encrypted_routing_number'],
      failed: ['encrypted_number'],
    });
  });

  it('checks PKCS#1 v1.5 padding explicitly, byte by byte', async () => {
    const fields = {
      // Well formed, built by hand: accepted.
      encrypted_number: rawRsa(gatewayKey, em('4000056655665556')),
      // Well formed with the shortest padding string allowed, 8 bytes: accepted.
      encrypted_swipe: rawRsa(gatewayKey, em('S'.repeat(245), { psLength: 8 })),
      // Padding string of 7 bytes: refused.
      encrypted_csc: rawRsa(gatewayKey, em('T'.repeat(246), { psLength: 7 })),
      // Block type 1 (signature padding): refused.
      encrypted_expiration: rawRsa(gatewayKey, em('12/29', { type: 0x01 })),
      // No zero separator anywhere: refused.
      encrypted_account_number: rawRsa(gatewayKey, em('', { separator: false, psLength: 254 })),
      // One byte short of the modulus length: refused before any RSA.
      encrypted_routing_number: Buffer.from(pkcs1(gatewayKey, '021000021'), 'base64')
        .subarray(1)
        .toString('base64'),
    };
    const r = await verify({ padding: 'RSAES-PKCS1-V1_5', salt: salt(), fields });
    expect(r.status).toBe(200);
    expect(r.body.fields.encrypted_number).toMatchObject({ decrypted: true, length: 16, luhn_ok: true });
    expect(r.body.fields.encrypted_swipe).toEqual({ decrypted: true, length: 245 });
    for (const name of [
      'encrypted_csc',
      'encrypted_expiration',
      'encrypted_account_number',
      'encrypted_routing_number',
    ]) {
      expect(r.body.fields[name], name).toEqual({ decrypted: false, error: 'DECRYPT_FAILED' });
    }
  });

  it('does not accept one padding for the other', async () => {
    const asPkcs1 = await verify({
      padding: 'RSAES-PKCS1-V1_5',
      salt: salt(),
      fields: { encrypted_csc: oaep(gatewayKey, '123') },
    });
    const asOaep = await verify({
      padding: 'RSAES-OAEP-SHA256',
      salt: salt(),
      fields: { encrypted_csc: pkcs1(gatewayKey, '123') },
    });
    expect(asPkcs1.body.fields.encrypted_csc.decrypted).toBe(false);
    expect(asOaep.body.fields.encrypted_csc.decrypted).toBe(false);
  });

  it.each([
    ['a salt under 16 bytes', { salt: randomBytes(15).toString('base64') }],
    ['a salt that is not base64', { salt: '***not-base64***' }],
    ['a field the contract does not name', { fields: { encrypted_pin: 'AAAA' } }],
    ['no fields', { fields: {} }],
    ['an unknown padding', { padding: 'RSAES-OAEP-SHA1' }],
  ])('refuses %s with VALIDATION', async (_name, override) => {
    const r = await verify({
      padding: 'RSAES-PKCS1-V1_5',
      salt: salt(),
      fields: { encrypted_csc: pkcs1(gatewayKey, '123') },
      ...override,
    });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION');
  });

  it('refuses a key_id it does not know with NOT_FOUND', async () => {
    const r = await verify({
      padding: 'RSAES-OAEP-SHA256',
      key_id: 'gk_nope',
      salt: salt(),
      fields: { encrypted_csc: oaep(gatewayKey, '1') },
    });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('NOT_FOUND');
  });

  it('rate-limits with 429 RATE_LIMITED and Retry-After, and lets the caller back in after the window', async () => {
    const body = {
      padding: 'RSAES-OAEP-SHA256',
      salt: salt(),
      fields: { encrypted_csc: oaep(gatewayKey, '1') },
    };
    for (let i = 0; i < LIMIT; i++) expect((await verify(body)).status).toBe(200);
    const limited = await verify(body);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    clock.advance(61);
    expect((await verify(body)).status).toBe(200);
  });
});

describe('gateway key rotation', () => {
  it('moves the old key to previous and still decrypts under it until accepted_until', async () => {
    const oldKey = gatewayKey;
    const oldId = gatewayKeyId;
    const rotated = await call(sb, 'POST', '/sandbox/rotate_public_key', { token });
    expect(rotated.status).toBe(200);
    const r = await call(sb, 'GET', '/v1/encryption/public_key', { token });
    expect(r.body.key_id).not.toBe(oldId);
    expect(r.body.key_id).toBe(rotated.body.key_id);
    expect(r.body.previous).toEqual([
      {
        key_id: oldId,
        spki_sha256: expect.any(String),
        accepted_until: new Date(clock.now() + GRACE * 1000).toISOString(),
      },
    ]);
    const newKey = createPublicKey(r.body.pem);

    const underOld = { encrypted_csc: oaep(oldKey, '321') };
    const named = await verify({
      padding: 'RSAES-OAEP-SHA256',
      key_id: oldId,
      salt: salt(),
      fields: underOld,
    });
    expect(named.body.fields.encrypted_csc).toEqual({ decrypted: true, length: 3 });
    // Without a key_id the current key is meant, and the old ciphertext does not decrypt under it.
    const unnamed = await verify({ padding: 'RSAES-OAEP-SHA256', salt: salt(), fields: underOld });
    expect(unnamed.body.fields.encrypted_csc.decrypted).toBe(false);
    const current = await verify({
      padding: 'RSAES-OAEP-SHA256',
      salt: salt(),
      fields: { encrypted_csc: oaep(newKey, '1') },
    });
    expect(current.body.fields.encrypted_csc.decrypted).toBe(true);

    clock.advance(GRACE);
    const late = await verify({
      padding: 'RSAES-OAEP-SHA256',
      key_id: oldId,
      salt: salt(),
      fields: underOld,
    });
    expect(late.status).toBe(404);
    const after = await call(sb, 'GET', '/v1/encryption/public_key', { token });
    expect(after.body.previous).toEqual([]);
  });
});

describe('the data dir after all of the above', () => {
  it('holds none of the values decrypted, in clear, hex or base64', () => {
    // Short values (CVV, expiry) turn up by chance inside PEM and base64 text; the long ones cannot.
    const values = [
      '4111111111111111',
      '000123456789',
      '4000056655665556',
      '%B4111111111111111^DOE/JANE^2912101?',
    ];
    expect(findSecrets([dir], values)).toEqual([]);
  });
});
