import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle } from '../../../electron/gateway/sandbox/server.nodejs';
import {
  call,
  freshSet,
  login,
  makeMerchantKey,
  openSet,
  register,
  secure,
  type MerchantKey,
} from './client';

let sb: SandboxHandle;
let dir: string;
let token: string;
let a: MerchantKey;
let b: MerchantKey;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mkm-sb-keys-'));
  sb = await startSandbox({
    port: 0,
    dataDir: dir,
    users: [
      { name: 'm', password: 'p w:d' },
      { name: 'guessed', password: 'right' },
    ],
    loginRateLimit: { max: 3, windowSeconds: 60 },
  });
  token = await login(sb, 'm', 'p w:d');
  a = makeMerchantKey('transport-a', 'RSAES-OAEP-SHA256');
  b = makeMerchantKey('transport-b', 'RSAES-OAEP-SHA1');
});

afterAll(async () => {
  await sb?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('OAuth', () => {
  it('issues a bearer token for the right password only', async () => {
    const ok = await call(sb, 'POST', '/oauth/token', {
      form: { grant_type: 'password', username: 'm', password: 'p w:d' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect(ok.body.access_token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(ok.headers['cache-control']).toBe('no-store');
    for (const form of [
      { grant_type: 'password', username: 'm', password: 'wrong' },
      { grant_type: 'password', username: 'nobody', password: 'p w:d' },
    ]) {
      const r = await call(sb, 'POST', '/oauth/token', { form });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('UNAUTHORIZED');
    }
  });

  it('throttles a user name after repeated failed sign-ins, and only that name', async () => {
    const attempt = (username: string, password: string) =>
      call(sb, 'POST', '/oauth/token', { form: { grant_type: 'password', username, password } });
    for (let i = 0; i < 3; i++) expect((await attempt('guessed', `wrong-${i}`)).status).toBe(401);
    const limited = await attempt('guessed', 'right');
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Successful sign-ins are never counted: m signs in freely.
    for (let i = 0; i < 4; i++) expect((await attempt('m', 'p w:d')).status).toBe(200);
  });

  it('refuses other grants and a JSON body', async () => {
    const grant = await call(sb, 'POST', '/oauth/token', {
      form: { grant_type: 'client_credentials', username: 'm', password: 'p w:d' },
    });
    expect(grant.status).toBe(400);
    expect(grant.body.error.code).toBe('VALIDATION');
    const json = await call(sb, 'POST', '/oauth/token', { json: { username: 'm', password: 'p w:d' } });
    expect(json.body.error.code).toBe('VALIDATION');
  });

  it('takes the scheme name in any case, as RFC 9110 allows', async () => {
    const r = await call(sb, 'GET', '/v1/encryption/merchant_keys', { token });
    expect(r.status).toBe(200);
    const https = await import('node:https');
    const status = await new Promise<number>((resolve, reject) => {
      const req = https.request(
        new URL('/v1/encryption/merchant_keys', sb.url),
        { ca: sb.caPem, headers: { authorization: `bearer ${token}` }, agent: false },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
  });

  it('refuses a made-up token', async () => {
    const r = await call(sb, 'GET', '/v1/encryption/merchant_keys', { token: 'x'.repeat(43) });
    expect(r.status).toBe(401);
  });
});

describe('errors', () => {
  it('answers unknown routes with NOT_FOUND and malformed JSON with VALIDATION, no stack traces', async () => {
    const nf = await call(sb, 'GET', '/v1/nothing-here', { token });
    expect(nf.status).toBe(404);
    expect(nf.body).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
    const bad = await call(sb, 'POST', '/v1/encryption/merchant_keys', {
      token,
      rawBody: '{"key_id": "x", ',
      contentType: 'application/json',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION');
    expect(bad.text).not.toMatch(/at .*\.ts|node_modules|SyntaxError/);
  });

  it('refuses an oversized body (413) and a body that is not JSON (415), both as VALIDATION', async () => {
    const big = await call(sb, 'POST', '/v1/encryption/key_sets', {
      token,
      json: { pad: 'x'.repeat(70 * 1024) },
    });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('VALIDATION');
    const xml = await call(sb, 'POST', '/v1/encryption/key_sets', {
      token,
      rawBody: '<x/>',
      contentType: 'application/xml',
    });
    expect(xml.status).toBe(415);
    expect(xml.body.error.code).toBe('VALIDATION');
  });
});

describe('merchant keys', () => {
  it('has nothing to wrap a set under before a key is registered', async () => {
    const r = await call(sb, 'POST', '/v1/encryption/key_sets', { token, json: {} });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('NOT_FOUND');
  });

  it.each([
    [
      'a private key',
      () =>
        generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
          type: 'pkcs8',
          format: 'pem',
        }),
    ],
    [
      'a 1024-bit key',
      () =>
        generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }),
    ],
    [
      'an EC key',
      () =>
        generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }),
    ],
    ['garbage', () => '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'],
  ])('refuses %s with VALIDATION and does not echo it', async (_name, make) => {
    const pem = make() as string;
    const r = await call(sb, 'POST', '/v1/encryption/merchant_keys', {
      token,
      json: { key_id: 'bad', public_key_pem: pem, wrapping: 'RSAES-OAEP-SHA256' },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION');
    expect(r.text).not.toContain(pem.split('\n')[1]!);
  });

  it('refuses an unknown wrapping', async () => {
    const r = await call(sb, 'POST', '/v1/encryption/merchant_keys', {
      token,
      json: { key_id: a.keyId, public_key_pem: a.publicPem, wrapping: 'RSAES-PKCS1-V1_5' },
    });
    expect(r.status).toBe(400);
  });

  it('registers, re-registers idempotently with a fresh set, and refuses another key under the same id', async () => {
    const first = await register(sb, token, a);
    expect(first.status).toBe(201);
    const again = await register(sb, token, a);
    expect(again.status).toBe(200);
    const { next_key_set: s1, ...body1 } = first.body;
    const { next_key_set: s2, ...body2 } = again.body;
    expect(body2).toEqual(body1);
    expect(s2.set_id).not.toBe(s1.set_id);
    openSet(s1, [a]);
    openSet(s2, [a]);

    const other = makeMerchantKey(a.keyId, 'RSAES-OAEP-SHA256');
    const conflict = await register(sb, token, other);
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('KEY_ID_CONFLICT');
    const rewrap = await register(sb, token, { ...a, wrapping: 'RSAES-OAEP-SHA1' });
    expect(rewrap.status).toBe(409);
    const alias = await register(sb, token, { ...a, keyId: 'alias-of-a' });
    expect(alias.status).toBe(409);
    expect(alias.body.error.code).toBe('KEY_ID_CONFLICT');
  });

  it('wraps new sets under the most recently registered active key, and falls back when it is retired', async () => {
    const rb = await register(sb, token, b);
    expect(rb.status).toBe(201);
    expect(rb.body.next_key_set.wrapping_key_id).toBe(b.keyId);
    const underB = await freshSet(sb, token, [a, b]);
    expect(underB.issued.wrapping_key_id).toBe(b.keyId);

    // Re-registering the older key does not make it the newest.
    const again = await register(sb, token, a);
    expect(again.body.next_key_set.wrapping_key_id).toBe(b.keyId);

    const listed = await call(sb, 'GET', '/v1/encryption/merchant_keys', { token });
    expect(listed.body.keys).toEqual([
      {
        key_id: a.keyId,
        spki_sha256: a.spkiSha256,
        wrapping: a.wrapping,
        status: 'active',
        registered_at: expect.any(String),
        retired_at: null,
      },
      {
        key_id: b.keyId,
        spki_sha256: b.spkiSha256,
        wrapping: b.wrapping,
        status: 'active',
        registered_at: expect.any(String),
        retired_at: null,
      },
    ]);

    const retired = await call(sb, 'POST', `/v1/encryption/merchant_keys/${b.keyId}/retire`, { token });
    expect(retired.status).toBe(200);
    expect(retired.body).toEqual({ key_id: b.keyId, status: 'retired', retired_at: expect.any(String) });
    const twice = await call(sb, 'POST', `/v1/encryption/merchant_keys/${b.keyId}/retire`, { token });
    expect(twice.body).toEqual(retired.body);

    const underA = await freshSet(sb, token, [a]);
    expect(underA.issued.wrapping_key_id).toBe(a.keyId);
    // A set issued under b before it was retired is still honoured until it expires.
    const m = await secure(sb, token, 'ping', underB, {});
    expect(m.status).toBe(200);
    expect(m.body.next_key_set.wrapping_key_id).toBe(a.keyId);

    const listed2 = await call(sb, 'GET', '/v1/encryption/merchant_keys', { token });
    expect(listed2.body.keys[1]).toMatchObject({
      key_id: b.keyId,
      status: 'retired',
      retired_at: retired.body.retired_at,
    });
    // A retired id is not brought back by registering it again.
    const revive = await register(sb, token, b);
    expect(revive.status).toBe(409);
  });

  it('answers retiring an unknown key with NOT_FOUND', async () => {
    const r = await call(sb, 'POST', '/v1/encryption/merchant_keys/nope/retire', { token });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('NOT_FOUND');
  });
});
