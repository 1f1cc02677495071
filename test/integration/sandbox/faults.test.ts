import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle } from '../../../electron/gateway/sandbox/server.nodejs';
import {
  call,
  cmacKcv,
  freshSet,
  login,
  makeMerchantKey,
  openResponse,
  openSet,
  register,
  secure,
  unwrap,
  type MerchantKey,
  type OpenSet,
} from './client';

const HOLD_MS = 1500;
let sb: SandboxHandle;
let dir: string;
let token: string;
let key: MerchantKey;
let set: OpenSet;

const arm = async (next: string) => {
  const r = await call(sb, 'POST', '/sandbox/faults', { token, json: { next } });
  expect(r.status).toBe(200);
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mkm-sb-faults-'));
  sb = await startSandbox({
    port: 0,
    dataDir: dir,
    users: [{ name: 'f', password: 'f' }],
    faultTimeoutMs: HOLD_MS,
  });
  token = await login(sb, 'f', 'f');
  key = makeMerchantKey('fault-key', 'RSAES-OAEP-SHA256');
  set = openSet((await register(sb, token, key)).body.next_key_set, [key]);
});

afterAll(async () => {
  await sb?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sandbox faults', () => {
  it('500: fails the next call before doing anything, so the same set still works', async () => {
    await arm('500');
    const r = await secure(sb, token, 'ping', set, {});
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ error: { code: 'INTERNAL', message: expect.any(String) } });
    const retry = await secure(sb, token, 'ping', set, {});
    expect(retry.status).toBe(200);
    set = openSet(retry.body.next_key_set, [key]);
  });

  it('timeout: holds the answer past a client timeout; the work was done, so the set is used', async () => {
    await arm('timeout');
    await expect(secure(sb, token, 'ping', set, {}, { timeoutMs: 300 })).rejects.toThrow(/client timeout/);
    const retry = await secure(sb, token, 'ping', set, {});
    expect(retry.status).toBe(409);
    expect(retry.body.error.code).toBe('KEY_SET_USED');
    set = openSet(retry.body.next_key_set, [key]);
  });

  it('timeout: drops the socket after the configured hold when the client waits', async () => {
    await arm('timeout');
    const started = Date.now();
    await expect(
      call(sb, 'POST', '/v1/encryption/key_sets', { token, json: {}, timeoutMs: 10_000 }),
    ).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(HOLD_MS - 100);
  });

  it('truncated: sends half a JSON body and closes', async () => {
    await arm('truncated');
    const err = await secure(sb, token, 'ping', set, {}).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/aborted|not JSON/);
    const retry = await secure(sb, token, 'ping', set, {});
    expect(retry.body.error.code).toBe('KEY_SET_USED');
    set = openSet(retry.body.next_key_set, [key]);
  });

  it('bad_kcv: the next set carries an enc_kcv that does not match its key', async () => {
    await arm('bad_kcv');
    const r = await call(sb, 'POST', '/v1/encryption/key_sets', { token, json: {} });
    expect(r.status).toBe(201);
    const issued = r.body.next_key_set;
    expect(issued.enc_kcv).toMatch(/^[0-9a-f]{6}$/);
    expect(cmacKcv(unwrap(key, issued.enc_key))).not.toBe(issued.enc_kcv);
    expect(() => openSet(issued, [key])).toThrow(/enc_kcv mismatch/);
    // Once only.
    const next = await freshSet(sb, token, [key]);
    expect(next.setId).toMatch(/^ks_/);
  });

  it('bad_mac: the secure answer fails its MAC check; the set was used', async () => {
    await arm('bad_mac');
    const r = await secure(sb, token, 'ping', set, {});
    expect(r.status).toBe(200);
    expect(() => openResponse(set, r.body)).toThrow(/MAC invalid/);
    const retry = await secure(sb, token, 'ping', set, {});
    expect(retry.body.error.code).toBe('KEY_SET_USED');
    set = openSet(retry.body.next_key_set, [key]);
  });

  it('bad_mac waits for a secure call rather than vanishing on a key call', async () => {
    await arm('bad_mac');
    const plain = await freshSet(sb, token, [key]);
    const r = await secure(sb, token, 'ping', plain, {});
    expect(() => openResponse(plain, r.body)).toThrow(/MAC invalid/);
    const ok = await secure(sb, token, 'ping', set, {});
    expect(openResponse(set, ok.body).pong).toBe(true);
    set = openSet(ok.body.next_key_set, [key]);
  });

  it('replay_set: re-issues the set just used as next_key_set; using it is KEY_SET_USED', async () => {
    await arm('replay_set');
    const used = set;
    const r = await secure(sb, token, 'ping', used, {});
    expect(r.status).toBe(200);
    expect(openResponse(used, r.body).pong).toBe(true);
    expect(r.body.next_key_set).toEqual(used.issued);
    const replayed = openSet(r.body.next_key_set, [key]);
    const attempt = await secure(sb, token, 'ping', replayed, {});
    expect(attempt.status).toBe(409);
    expect(attempt.body.error.code).toBe('KEY_SET_USED');
    set = openSet(attempt.body.next_key_set, [key]);
    expect(set.setId).not.toBe(used.setId);
  });

  it('none: disarms a pending fault', async () => {
    await arm('500');
    await arm('none');
    const r = await secure(sb, token, 'ping', set, {});
    expect(r.status).toBe(200);
    set = openSet(r.body.next_key_set, [key]);
  });

  it('timeout on registration: the key is registered, and registering again is answered 200', async () => {
    const k2 = makeMerchantKey('fault-key-2', 'RSAES-OAEP-SHA256');
    await arm('timeout');
    await expect(
      call(sb, 'POST', '/v1/encryption/merchant_keys', {
        token,
        json: { key_id: k2.keyId, public_key_pem: k2.publicPem, wrapping: k2.wrapping },
        timeoutMs: 300,
      }),
    ).rejects.toThrow(/client timeout/);
    const r = await register(sb, token, k2);
    expect(r.status).toBe(200);
    expect(r.body.next_key_set.wrapping_key_id).toBe(k2.keyId);
  });

  it('refuses an unknown fault with VALIDATION', async () => {
    const r = await call(sb, 'POST', '/sandbox/faults', { token, json: { next: 'meteor' } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION');
  });
});
