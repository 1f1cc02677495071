import { StateSeals } from '../../../electron/audit/state-seal.nodejs';
import { GatewayStates } from '../../../electron/gateway/client/state.nodejs';
import { dataPaths } from '../../../electron/core/paths.nodejs';
import https from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../electron/core/logger.nodejs';
import { EventBus } from '../../../electron/core/registry.nodejs';
import { envSecretProvider, type SecretProvider } from '../../../electron/gateway/client/profiles.nodejs';
import { GatewayService } from '../../../electron/gateway/gateway-service.nodejs';
import { startSandbox, type SandboxHandle } from '../../../electron/gateway/sandbox/server.nodejs';
import { ensureTlsMaterial } from '../../../electron/gateway/sandbox/tls.nodejs';
import type { TokensService } from '../../../electron/hsm/tokens.nodejs';

/**
 * Issue 10 point 10: one password per gateway. A password exported for one profile, typed for
 * one, or kept for one is never sent to another. The other gateway here is a loopback HTTPS
 * server that records every sign-in it receives; the real sandbox serves the profile that owns
 * the password. No token is involved (fetch-key needs none), so the token service is absent.
 */
const A_PASSWORD = 'gateway-a 7781 secret';
let sandbox: SandboxHandle;
let evil: { url: string; pin: string; signIns: string[]; close(): Promise<void> };
const dirs: string[] = [];
const temp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};

beforeAll(async () => {
  sandbox = await startSandbox({
    port: 0,
    dataDir: temp('mkm-pw-sb-'),
    users: [{ name: 'merchant-a', password: A_PASSWORD }],
  });
  const tls = await ensureTlsMaterial(temp('mkm-pw-evil-'));
  const signIns: string[] = [];
  const server = https.createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      signIns.push(`${req.url} ${Buffer.concat(chunks).toString('utf8')}`);
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"UNAUTHORIZED","message":"no"}}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  evil = {
    url: `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    pin: tls.pin,
    signIns,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});

afterAll(async () => {
  await sandbox?.close();
  await evil?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function service(secrets: SecretProvider): GatewayService {
  const dataDir = temp('mkm-pw-data-');
  return new GatewayService({
    dataDir,
    states: new GatewayStates(dataPaths(dataDir).gateway, new StateSeals()),
    tokens: {} as TokensService,
    record: () => undefined,
    logger: silentLogger,
    events: new EventBus(silentLogger),
    secrets,
  });
}

const profileA = () => ({
  id: 'a',
  name: 'Gateway A',
  baseUrl: sandbox.url,
  username: 'merchant-a',
  tlsPinSha256: sandbox.pin,
  cse: 'RSAES-OAEP-SHA256' as const,
});
const profileB = (id = 'b') => ({
  id,
  name: `Gateway ${id}`,
  baseUrl: evil.url,
  username: 'merchant-a',
  tlsPinSha256: evil.pin,
  cse: 'RSAES-OAEP-SHA256' as const,
});

describe('one password per gateway', () => {
  it('MKM_GATEWAY_PASSWORD serves the profile that names it, and no other', async () => {
    const env = { MKM_GATEWAY_PASSWORD: A_PASSWORD, MKM_GW_C: 'gateway-c password' };
    const gw = service(envSecretProvider({ env }));
    const a = await gw.addProfile({ ...profileA(), passwordEnv: 'MKM_GATEWAY_PASSWORD' });
    expect(a).toMatchObject({ passwordKnown: true, passwordEnv: 'MKM_GATEWAY_PASSWORD' });
    expect((await gw.fetchKey('a')).status).toBe('pinned');

    const b = await gw.addProfile(profileB());
    expect(b).toMatchObject({ passwordKnown: false, passwordEnv: null });
    await expect(gw.fetchKey('b')).rejects.toMatchObject({ code: 'GATEWAY_PASSWORD_REQUIRED' });
    // A profile naming its own variable gets that one only.
    await gw.addProfile({ ...profileB('c'), passwordEnv: 'MKM_GW_C' });
    await expect(gw.fetchKey('c')).rejects.toMatchObject({ code: 'GATEWAY_UNAUTHORIZED' });
    expect(evil.signIns.join('\n')).not.toContain(new URLSearchParams({ p: A_PASSWORD }).toString().slice(2));
    expect(evil.signIns).toHaveLength(1);
    expect(evil.signIns[0]).toContain('gateway-c');
    evil.signIns.length = 0;
    await gw.close();
  });

  it('a typed password stays with its profile: a profile added again under the same id, or moved to another host, starts without it', async () => {
    const gw = service(envSecretProvider({ env: {} }));
    await gw.addProfile(profileA());
    await gw.setPassword({ profileId: 'a', password: A_PASSWORD });
    expect((await gw.fetchKey('a')).status).toBe('pinned');
    // The same id pointed at another host (the embedded sandbox's put): the password stays behind.
    await gw.putProfile({ ...profileA(), baseUrl: evil.url, tlsPinSha256: evil.pin });
    await expect(gw.fetchKey('a')).rejects.toMatchObject({ code: 'GATEWAY_PASSWORD_REQUIRED' });
    await gw.removeProfile('a');
    await gw.addProfile(profileA());
    expect(gw.listProfiles()[0]!.passwordKnown).toBe(false);
    await expect(gw.fetchKey('a')).rejects.toMatchObject({ code: 'GATEWAY_PASSWORD_REQUIRED' });
    expect(evil.signIns).toEqual([]);
    await gw.close();
  });

  it('a password kept for an earlier profile whose removal did not finish is forgotten when a profile takes its id', async () => {
    const kept = new Map<string, string>();
    let failForget = true;
    const provider: SecretProvider = {
      get: async (id) => {
        const value = kept.get(id);
        if (value === undefined)
          throw Object.assign(new Error('none'), { code: 'GATEWAY_PASSWORD_REQUIRED' });
        return value;
      },
      store: async (id, password) => void kept.set(id, password),
      forget: async (id) => {
        if (failForget) throw new Error('disk full');
        kept.delete(id);
      },
      has: (id) => kept.has(id),
    };
    const gw = service(provider);
    await gw.addProfile(profileA()).catch((e: unknown) => e);
    // The earlier profile could not even be added while its old password cannot be removed.
    await expect(gw.addProfile(profileB())).rejects.toMatchObject({ code: 'IO_ERROR' });
    failForget = false;
    await gw.addProfile(profileA());
    await gw.setPassword({ profileId: 'a', password: A_PASSWORD, remember: true });
    failForget = true;
    await gw.removeProfile('a'); // its kept password stays behind (the removal only warns)
    expect(kept.has('a')).toBe(true);
    await expect(gw.addProfile({ ...profileB('a') })).rejects.toMatchObject({ code: 'IO_ERROR' });
    failForget = false;
    const fresh = await gw.addProfile({ ...profileB('a') });
    expect(fresh.passwordKnown).toBe(false);
    expect(kept.has('a')).toBe(false);
    await expect(gw.fetchKey('a')).rejects.toMatchObject({ code: 'GATEWAY_PASSWORD_REQUIRED' });
    expect(evil.signIns).toEqual([]);
    await gw.close();
  });
});
