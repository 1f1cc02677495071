import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSecrets } from '../../helpers/scan';
import { startSandbox, type SandboxHandle } from '../../../electron/gateway/sandbox/server.nodejs';
import {
  call,
  cmacOfZeroBlock,
  freshSet,
  login,
  mac,
  makeMerchantKey,
  manualClock,
  openResponse,
  openSet,
  opensslCmac,
  opensslVerifiesPss,
  register,
  salt,
  secure,
  setSignatureValid,
  setSignedBytes,
  tagOf,
  trustSigningKey,
  type MerchantKey,
  type OpenSet,
} from './client';

const TTL = 120;
let sb: SandboxHandle;
let dir: string;
const clock = manualClock();
let token: string;
let k256: MerchantKey;
let set: OpenSet;
let signingPem: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mkm-sb-secure-'));
  sb = await startSandbox({
    port: 0,
    dataDir: dir,
    users: [
      { name: 'alice', password: 'correct horse' },
      { name: 'bob', password: 'battery staple' },
    ],
    setTtlSeconds: TTL,
    tokenTtlSeconds: 600,
    clock: clock.now,
  });
  token = await login(sb, 'alice', 'correct horse');
  // Contract 1.1: every set opened below must carry a signature by this key.
  const signing = await call(sb, 'GET', '/v1/encryption/signing_key', { token });
  expect(signing.status).toBe(200);
  signingPem = signing.body.pem;
  trustSigningKey(signingPem);
  k256 = makeMerchantKey('alice-2026-01', 'RSAES-OAEP-SHA256');
  const r = await register(sb, token, k256);
  expect(r.status).toBe(201);
  expect(r.body).toMatchObject({ key_id: 'alice-2026-01', spki_sha256: k256.spkiSha256, status: 'active' });
  set = openSet(r.body.next_key_set, [k256]);
});

afterAll(async () => {
  trustSigningKey(null);
  await sb?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the test client itself', () => {
  it('computes the same CMAC as openssl, so its KCV check is a real check', () => {
    const key = randomBytes(32);
    const file = join(dir, 'zero-block');
    writeFileSync(file, Buffer.alloc(16));
    expect(cmacOfZeroBlock(key).toString('hex')).toBe(opensslCmac(key, file));
  });
});

describe('secure messages', () => {
  it('runs a chain of 24 messages, each under the set the previous answer delivered', async () => {
    const seen = new Set<string>([set.setId]);
    for (let i = 0; i < 24; i++) {
      const op = i % 2 === 0 ? 'ping' : 'verify_payload';
      const s = salt();
      const req = op === 'ping' ? {} : { salt: s, fields: { card_number: '4111111111111111', cvv: '123' } };
      const r = await secure(sb, token, op, set, req);
      expect(r.status).toBe(200);
      expect(r.text).not.toContain('4111111111111111');
      // A fresh IV per response: never the set's request IV.
      expect(r.body.iv).not.toBe(set.issued.iv);
      const inner = openResponse(set, r.body);
      if (op === 'ping') {
        expect(inner.pong).toBe(true);
        expect(new Date(inner.server_time).getTime()).toBe(clock.now());
      } else {
        expect(inner.fields.card_number).toEqual({
          received: true,
          length: 16,
          last4: '1111',
          tag: tagOf(s, '4111111111111111'),
          luhn_ok: true,
        });
        expect(inner.fields.cvv).toEqual({ received: true, length: 3 });
      }
      const next = r.body.next_key_set;
      expect(next.wrapping_key_id).toBe(k256.keyId);
      expect(seen.has(next.set_id)).toBe(false);
      seen.add(next.set_id);
      set = openSet(next, [k256]);
    }
    expect(seen.size).toBe(25);
  });

  it('answers verify_payload with tags only for card, account and routing numbers', async () => {
    const s = salt();
    const r = await secure(sb, token, 'verify_payload', set, {
      salt: s,
      fields: {
        card_number: '4111111111111112',
        expiration: '12/29',
        cvv: '1234',
        account_number: '1234567',
        routing_number: '021000021',
      },
    });
    expect(r.status).toBe(200);
    const inner = openResponse(set, r.body);
    set = openSet(r.body.next_key_set, [k256]);
    expect(inner.fields).toEqual({
      card_number: {
        received: true,
        length: 16,
        last4: '1112',
        tag: tagOf(s, '4111111111111112'),
        luhn_ok: false,
      },
      expiration: { received: true, length: 5 },
      cvv: { received: true, length: 4 },
      // 7 characters: too short for last4, still tagged.
      account_number: { received: true, length: 7, tag: tagOf(s, '1234567') },
      routing_number: { received: true, length: 9, tag: tagOf(s, '021000021'), aba_ok: true },
    });
  });

  it('refuses a second use of a set with KEY_SET_USED and a working next_key_set', async () => {
    const used = set;
    const ok = await secure(sb, token, 'ping', used, {});
    expect(ok.status).toBe(200);
    const again = await secure(sb, token, 'ping', used, {});
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('KEY_SET_USED');
    set = openSet(again.body.next_key_set, [k256]);
    const after = await secure(sb, token, 'ping', set, {});
    expect(after.status).toBe(200);
    set = openSet(after.body.next_key_set, [k256]);
  });

  it('lets exactly one of two simultaneous uses of a set through', async () => {
    const both = await Promise.all([secure(sb, token, 'ping', set, {}), secure(sb, token, 'ping', set, {})]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 409]);
    const winner = both.find((r) => r.status === 200)!;
    expect(openResponse(set, winner.body).pong).toBe(true);
    set = openSet(winner.body.next_key_set, [k256]);
  });

  it('refuses an expired set with KEY_SET_EXPIRED (410) and a fresh set', async () => {
    clock.advance(TTL + 1);
    const r = await secure(sb, token, 'ping', set, {});
    expect(r.status).toBe(410);
    expect(r.body.error.code).toBe('KEY_SET_EXPIRED');
    set = openSet(r.body.next_key_set, [k256]);
    expect(new Date(set.issued.expires_at).getTime()).toBe(clock.now() + TTL * 1000);
  });

  it('refuses an unknown set with KEY_SET_UNKNOWN (404) and a fresh set', async () => {
    const fake = { ...set, setId: 'ks_doesnotexist' };
    const r = await secure(sb, token, 'ping', fake, {});
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('KEY_SET_UNKNOWN');
    expect(r.body.next_key_set.set_id).toMatch(/^ks_/);
    // The unknown-set attempt did not touch the set we hold.
    const ok = await secure(sb, token, 'ping', set, {});
    expect(ok.status).toBe(200);
    set = openSet(ok.body.next_key_set, [k256]);
  });

  it('answers a bad MAC, a tampered ciphertext and bad padding under a good MAC alike, and burns the set', async () => {
    const bodies: string[] = [];

    // 1. Wrong MAC key.
    const a = set;
    const r1 = await secure(sb, token, 'ping', { ...a, macKey: randomBytes(32) }, {});
    // 2. Ciphertext flipped after MACing.
    set = openSet(r1.body.next_key_set, [k256]);
    const b = set;
    const sealed = (await import('./client')).sealRequest(b, {});
    const ct = Buffer.from(sealed.ciphertext, 'base64');
    ct[0]! ^= 1;
    const r2 = await call(sb, 'POST', '/v1/secure/ping', {
      token,
      json: { ...sealed, ciphertext: ct.toString('base64') },
    });
    // 3. A correct MAC over a ciphertext whose padding is wrong: only a padding oracle tells this apart.
    set = openSet(r2.body.next_key_set, [k256]);
    const c = set;
    const raw = createCipheriv('aes-256-cbc', c.encKey, c.iv).setAutoPadding(false);
    const badPad = Buffer.concat([raw.update(Buffer.alloc(16, 0x41)), raw.final()]);
    const r3 = await call(sb, 'POST', '/v1/secure/ping', {
      token,
      json: {
        set_id: c.setId,
        ciphertext: badPad.toString('base64'),
        mac: mac(c.macKey, c.setId, c.iv, badPad).toString('base64'),
      },
    });
    for (const r of [r1, r2, r3]) {
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('MAC_INVALID');
      bodies.push(JSON.stringify(r.body.error));
    }
    expect(new Set(bodies).size).toBe(1);
    // A failed check consumes the set: the real keys cannot use it afterwards.
    const retry = await secure(sb, token, 'ping', a, {});
    expect(retry.status).toBe(409);
    expect(retry.body.error.code).toBe('KEY_SET_USED');
    set = openSet(r3.body.next_key_set, [k256]);
  });

  it('checks the MAC over set_id: a MAC computed without the set_id is refused', async () => {
    const c = createCipheriv('aes-256-cbc', set.encKey, set.iv);
    const ct = Buffer.concat([c.update('{}'), c.final()]);
    const wrongMac = createHmac('sha256', set.macKey)
      .update(Buffer.concat([set.iv, ct]))
      .digest();
    const r = await call(sb, 'POST', '/v1/secure/ping', {
      token,
      json: { set_id: set.setId, ciphertext: ct.toString('base64'), mac: wrongMac.toString('base64') },
    });
    expect(r.body.error.code).toBe('MAC_INVALID');
    set = openSet(r.body.next_key_set, [k256]);
  });

  it('contract 1.1: a request MACed as an answer (rsp) is refused: a reflected message fails', async () => {
    const c = createCipheriv('aes-256-cbc', set.encKey, set.iv);
    const ct = Buffer.concat([c.update('{}'), c.final()]);
    const r = await call(sb, 'POST', '/v1/secure/ping', {
      token,
      json: {
        set_id: set.setId,
        ciphertext: ct.toString('base64'),
        mac: mac(set.macKey, set.setId, set.iv, ct, 'rsp').toString('base64'),
      },
    });
    expect(r.body.error.code).toBe('MAC_INVALID');
    set = openSet(r.body.next_key_set, [k256]);
  });

  it('contract 1.1: the signing key is RSA >= 3072, not the encryption key, and openssl verifies a set signature', async () => {
    const signing = await call(sb, 'GET', '/v1/encryption/signing_key', { token });
    const publicKey = await call(sb, 'GET', '/v1/encryption/public_key', { token });
    expect(signing.body).toMatchObject({ key_id: expect.stringMatching(/^sk_/), previous: [] });
    expect(signing.body.spki_sha256).not.toBe(publicKey.body.spki_sha256);
    const bits = execFileSync('openssl', ['pkey', '-pubin', '-noout', '-text'], { input: signing.body.pem })
      .toString()
      .match(/(\d+) bit/)?.[1];
    expect(Number(bits)).toBeGreaterThanOrEqual(3072);
    const fresh = await call(sb, 'POST', '/v1/encryption/key_sets', { token, json: {} });
    const issued = fresh.body.next_key_set;
    expect(issued).toMatchObject({ merchant: 'alice', signing_key_id: signing.body.key_id });
    expect(opensslVerifiesPss(signing.body.pem, issued.sig, setSignedBytes(issued), dir)).toBe(true);
    const changed = setSignedBytes({ ...issued, merchant: 'bob' });
    expect(opensslVerifiesPss(signing.body.pem, issued.sig, changed, dir)).toBe(false);
    set = openSet(issued, [k256]);
  });

  it('contract 1.1: the unsigned_set and forged_set faults hand out a set that does not verify (and right KCVs)', async () => {
    for (const fault of ['unsigned_set', 'forged_set']) {
      const armed = await call(sb, 'POST', '/sandbox/faults', { token, json: { next: fault } });
      expect(armed.status).toBe(200);
      const r = await call(sb, 'POST', '/v1/encryption/key_sets', { token, json: {} });
      const issued = r.body.next_key_set;
      expect(setSignatureValid(issued, signingPem)).toBe(false);
      if (fault === 'unsigned_set') expect(issued.sig).toBeUndefined();
      expect(() => openSet(issued, [k256])).toThrow(/signature invalid/);
      // What makes it dangerous: apart from the signature it is a perfectly good set.
      trustSigningKey(null);
      expect(() => openSet(issued, [k256])).not.toThrow();
      trustSigningKey(signingPem);
    }
  });

  it('does not burn a set on an unknown operation or a malformed envelope', async () => {
    const r = await secure(sb, token, 'launch_missiles', set, {});
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('NOT_FOUND');
    const bad = await call(sb, 'POST', '/v1/secure/ping', {
      token,
      json: { set_id: set.setId, ciphertext: 'not base64!', mac: 'AAAA' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION');
    const ok = await secure(sb, token, 'ping', set, {});
    expect(ok.status).toBe(200);
    set = openSet(ok.body.next_key_set, [k256]);
  });

  it('refuses an authenticated but invalid request with VALIDATION, naming the field, not its value', async () => {
    const r = await secure(sb, token, 'verify_payload', set, {
      salt: Buffer.alloc(8).toString('base64'),
      fields: { card_number: '4111111111111111' },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION');
    expect(r.body.error.message).toContain('salt');
    expect(r.text).not.toContain('4111111111111111');
    set = openSet(r.body.next_key_set, [k256]);
  });

  it('wraps sets with OAEP SHA-1 for a key registered that way, and keeps merchants apart', async () => {
    const bobToken = await login(sb, 'bob', 'battery staple');
    const k1 = makeMerchantKey('bob-softhsm', 'RSAES-OAEP-SHA1');
    const r = await register(sb, bobToken, k1);
    expect(r.status).toBe(201);
    expect(r.body.wrapping).toBe('RSAES-OAEP-SHA1');
    let bobSet = openSet(r.body.next_key_set, [k1]);
    // A SHA-256 unwrap of a SHA-1 wrap fails: the wrapping really is SHA-1.
    expect(() => openSet(r.body.next_key_set, [{ ...k1, wrapping: 'RSAES-OAEP-SHA256' }])).toThrow();
    for (let i = 0; i < 3; i++) {
      const m = await secure(sb, bobToken, 'ping', bobSet, {});
      expect(m.status).toBe(200);
      expect(openResponse(bobSet, m.body).pong).toBe(true);
      bobSet = openSet(m.body.next_key_set, [k1]);
    }
    // Alice cannot use, or learn about, Bob's set.
    const cross = await secure(sb, token, 'ping', bobSet, {});
    expect(cross.status).toBe(404);
    expect(cross.body.error.code).toBe('KEY_SET_UNKNOWN');
    expect(cross.body.next_key_set.wrapping_key_id).toBe(k256.keyId);
    set = openSet(cross.body.next_key_set, [k256]);
    const stillBobs = await secure(sb, bobToken, 'ping', bobSet, {});
    expect(stillBobs.status).toBe(200);
  });

  it('keeps card data, passwords, tokens and keys out of its log', async () => {
    const { readFileSync } = await import('node:fs');
    const log = readFileSync(join(dir, 'sandbox.log'), 'utf8');
    expect(log).toContain('"msg":"secure call"');
    expect(log).toContain('"msg":"merchant key registered"');
    for (const secret of ['4111111111111111', '4111111111111112', '021000021', 'correct horse', token]) {
      expect(log).not.toContain(secret);
    }
    for (const key of [set.encKey, set.macKey]) {
      expect(log).not.toContain(key.toString('base64'));
      expect(log).not.toContain(key.toString('hex'));
    }
    expect(log).not.toContain(set.issued.enc_key);
    // Card and account numbers sent inside secure messages are nowhere in the data dir.
    expect(findSecrets([dir], ['4111111111111111', '4111111111111112', 'correct horse'])).toEqual([]);
  });

  it('refuses an expired bearer token with 401 UNAUTHORIZED', async () => {
    const short = await login(sb, 'alice', 'correct horse');
    clock.advance(601);
    const r = await call(sb, 'POST', '/v1/encryption/key_sets', { token: short, json: {} });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('UNAUTHORIZED');
    expect(r.headers['www-authenticate']).toContain('Bearer');
    token = await login(sb, 'alice', 'correct horse');
    const s = await freshSet(sb, token, [k256]);
    expect(s.setId).toMatch(/^ks_/);
  });
});
