import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle } from '../../../electron/gateway/sandbox/server.nodejs';
import { call, freshSet, login, makeMerchantKey, openSet, register, secure } from './client';

const dir = mkdtempSync(join(tmpdir(), 'mkm-sb-restart-'));
const users = [{ name: 'carol', password: 's3cret pass' }];
let sb: SandboxHandle | undefined;

afterAll(async () => {
  await sb?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('restart with the same data dir', () => {
  it('keeps users, gateway keys, merchant keys and sets; a used set stays used', async () => {
    sb = await startSandbox({ port: 0, dataDir: dir, users });
    const first = sb;
    const token = await login(first, 'carol', 's3cret pass');
    const key = makeMerchantKey('carol-1', 'RSAES-OAEP-SHA256');
    const used = openSet((await register(first, token, key)).body.next_key_set, [key]);
    expect((await secure(first, token, 'ping', used, {})).status).toBe(200);
    const unused = await freshSet(first, token, [key]);
    const rotated = await call(first, 'POST', '/sandbox/rotate_public_key', { token });
    const keyBefore = (await call(first, 'GET', '/v1/encryption/public_key', { token })).body;
    expect(keyBefore.previous).toHaveLength(1);

    // A second sandbox on the same data dir would overwrite the first one's state.
    await expect(startSandbox({ port: 0, dataDir: dir, users })).rejects.toThrow(/in use/);
    await first.close();
    sb = undefined;

    // What is on disk: state written atomically, private keys readable by the owner only.
    const files = readdirSync(dir);
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(statSync(join(dir, 'state.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'tls-key.pem')).mode & 0o777).toBe(0o600);
    for (const f of readdirSync(join(dir, 'gateway-keys'))) {
      expect(statSync(join(dir, 'gateway-keys', f)).mode & 0o777).toBe(0o600);
    }
    const state = readFileSync(join(dir, 'state.json'), 'utf8');
    expect(state).not.toContain('s3cret pass');
    expect(state).toMatch(/"password_hash": "scrypt\$/);
    expect(existsSync(join(dir, 'sandbox.lock'))).toBe(false);

    sb = await startSandbox({ port: 0, dataDir: dir, users });
    const second = sb;
    expect(second.pin).toBe(first.pin);
    expect(second.caPem).toBe(first.caPem);
    // Tokens are not persisted: a restart signs clients out.
    const stale = await call(second, 'POST', '/v1/encryption/key_sets', { token, json: {} });
    expect(stale.status).toBe(401);
    const token2 = await login(second, 'carol', 's3cret pass');

    const keyAfter = (await call(second, 'GET', '/v1/encryption/public_key', { token: token2 })).body;
    expect(keyAfter).toEqual(keyBefore);
    expect(keyAfter.key_id).toBe(rotated.body.key_id);
    const listed = await call(second, 'GET', '/v1/encryption/merchant_keys', { token: token2 });
    expect(listed.body.keys.map((k: { key_id: string }) => k.key_id)).toEqual(['carol-1']);

    const replay = await secure(second, token2, 'ping', used, {});
    expect(replay.status).toBe(409);
    expect(replay.body.error.code).toBe('KEY_SET_USED');
    const ok = await secure(second, token2, 'ping', unused, {});
    expect(ok.status).toBe(200);
    const again = await register(second, token2, key);
    expect(again.status).toBe(200);
  });

  it('refuses to start on a damaged state file instead of starting empty', async () => {
    await sb?.close();
    sb = undefined;
    const bad = mkdtempSync(join(tmpdir(), 'mkm-sb-bad-'));
    try {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(bad, 'state.json'), '{"version": 1, "users": ');
      await expect(startSandbox({ port: 0, dataDir: bad })).rejects.toThrow(/not valid JSON/);
      expect(existsSync(join(bad, 'sandbox.lock'))).toBe(false);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
