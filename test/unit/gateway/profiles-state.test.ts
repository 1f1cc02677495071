import { StateSeals } from '../../../electron/audit/state-seal.nodejs';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { envSecretProvider, parseGatewayProfile } from '../../../electron/gateway/client/profiles.nodejs';
import { GatewayStateStore } from '../../../electron/gateway/client/state.nodejs';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'mkm-gw-unit-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const valid = {
  id: 'paytrace-test',
  name: 'PayTrace (test)',
  baseUrl: 'https://api.example.com/',
  username: 'merchant',
  tlsPinSha256: 'AB'.repeat(32),
  scheme: { cse: { padding: 'RSAES-PKCS1-V1_5' }, keyRolling: false },
};

describe('gateway profiles', () => {
  it('accept a valid profile, normalising the pin and the address', () => {
    const p = parseGatewayProfile(valid);
    expect(p.tlsPinSha256).toBe('ab'.repeat(32));
    expect(p.baseUrl).toBe('https://api.example.com');
  });

  it.each([
    ['http address', { baseUrl: 'http://api.example.com' }],
    ['credentials in the address', { baseUrl: 'https://u:p@api.example.com' }],
    ['short pin', { tlsPinSha256: 'abcd' }],
    ['unknown padding', { scheme: { cse: { padding: 'RSA-RAW' } } }],
    ['a stored password', { password: 'nope' }],
  ])('refuse %s', (_name, patch) => {
    expect(() => parseGatewayProfile({ ...valid, ...patch })).toThrow(
      expect.objectContaining({ code: 'VALIDATION' }),
    );
  });

  it("take the password from the profile's own variable, else the prompt, else refuse", async () => {
    const env = { MKM_GATEWAY_PASSWORD: 'pw', MKM_GW_B: 'pw-b' };
    expect(await envSecretProvider({ env }).get('p', 'MKM_GATEWAY_PASSWORD')).toBe('pw');
    expect(await envSecretProvider({ env }).get('p', 'MKM_GW_B')).toBe('pw-b');
    expect(await envSecretProvider({ env: {}, prompt: async () => 'typed' }).get('p')).toBe('typed');
    await expect(envSecretProvider({ env: {} }).get('p')).rejects.toMatchObject({
      code: 'GATEWAY_PASSWORD_REQUIRED',
    });
  });

  it('never serve MKM_GATEWAY_PASSWORD to a profile that does not name it (one password per gateway)', async () => {
    const env = { MKM_GATEWAY_PASSWORD: 'gateway-a-secret' };
    const provider = envSecretProvider({ env });
    const error = await provider.get('b').catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'GATEWAY_PASSWORD_REQUIRED',
      details: { reason: 'no-password-env' },
    });
    expect(JSON.stringify(error) + String((error as Error).message)).not.toContain('gateway-a-secret');
    expect(provider.has!('b')).toBe(false);
    // Nor through another variable than the one it names.
    await expect(provider.get('b', 'MKM_GW_B')).rejects.toMatchObject({ code: 'GATEWAY_PASSWORD_REQUIRED' });
    expect(provider.has!('a', 'MKM_GATEWAY_PASSWORD')).toBe(true);
  });

  it('a profile names its variable by a plain environment variable name', () => {
    const base = { id: 'p', name: 'P', baseUrl: 'https://gw.example', username: 'u', scheme: {} };
    expect(parseGatewayProfile({ ...base, passwordEnv: 'MKM_GATEWAY_PASSWORD' }).passwordEnv).toBe(
      'MKM_GATEWAY_PASSWORD',
    );
    expect(() => parseGatewayProfile({ ...base, passwordEnv: 'PATH=x' })).toThrow(
      expect.objectContaining({ code: 'VALIDATION' }),
    );
  });
});

describe('gateway client state file', () => {
  it('is written atomically with mode 0600 and read back by a new store', () => {
    const dir = tempDir();
    const a = new GatewayStateStore(dir, 'p1', new StateSeals());
    a.update((s) => s.usedSetIds.push('ks_1'));
    expect(readdirSync(dir)).toEqual(['gateway-p1.json']);
    expect(statSync(a.file).mode & 0o777).toBe(0o600);
    expect(new GatewayStateStore(dir, 'p1', new StateSeals()).state.usedSetIds).toEqual(['ks_1']);
  });

  it('keeps a bounded memory of used sets', () => {
    const store = new GatewayStateStore(tempDir(), 'p1', new StateSeals());
    store.update((s) => {
      for (let i = 0; i < 600; i++) s.usedSetIds.push(`ks_${i}`);
    });
    expect(store.state.usedSetIds).toHaveLength(512);
    expect(store.state.usedSetIds.at(-1)).toBe('ks_599');
  });

  it('refuses a damaged file instead of starting over (a lost pin must not re-pin silently)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'gateway-p1.json'), '{"version":1,"gatewayKey":');
    expect(() => new GatewayStateStore(dir, 'p1', new StateSeals())).toThrow(
      expect.objectContaining({ code: 'STORE_CORRUPT' }),
    );
    writeFileSync(join(dir, 'gateway-p1.json'), JSON.stringify({ version: 1 }));
    expect(() => new GatewayStateStore(dir, 'p1', new StateSeals())).toThrow(
      expect.objectContaining({ code: 'STORE_CORRUPT' }),
    );
    expect(readFileSync(join(dir, 'gateway-p1.json'), 'utf8')).toBe(JSON.stringify({ version: 1 }));
  });

  it('leaves memory unchanged when an update is invalid', () => {
    const store = new GatewayStateStore(tempDir(), 'p1', new StateSeals());
    expect(() => store.update((s) => ((s as { version: number }).version = 2))).toThrow();
    expect(store.state.version).toBe(1);
  });
});
