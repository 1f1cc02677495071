import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle } from '../../../electron/gateway/sandbox/server.nodejs';
import { gatewayAddArgs, mkmOn, type CliRun } from '../../helpers/mkm-cli';
import { findSecrets } from '../../helpers/scan';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { call, login } from '../sandbox/client';

/**
 * The gateway in the app, driven through `mkm gateway ...` as an admin would: a real sandbox
 * gateway on 127.0.0.1, a real SoftHSM2 token behind the real host process, the PIN and the
 * gateway password in the environment only.
 */
const USER = 'merchant-cli';
const PASSWORD = 'gw-app pass 5512-x';
let token: SoftHsmToken;
let sandbox: SandboxHandle;
let sandboxDir: string;
let dataDir: string;

/** mkm on this test's data folder and token, or another library's (`module`), with `extraEnv`. */
const mkm = (args: string[], module = token.modulePath, extraEnv: NodeJS.ProcessEnv = {}): Promise<CliRun> =>
  mkmOn(() => ({ dataDir, token: { ...token, modulePath: module } }), {
    MKM_GATEWAY_PASSWORD: PASSWORD,
    ...extraEnv,
  })(args, token.userPin);

const json = async <T>(args: string[]): Promise<T> => {
  const r = await mkm(['--json', ...args]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
};

beforeAll(async () => {
  token = createSoftHsmToken({ label: 'gw-app', userPin: '8642-gw-app', setProcessEnv: false });
  sandboxDir = mkdtempSync(join(tmpdir(), 'mkm-gw-app-sandbox-'));
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-gw-app-data-'));
  sandbox = await startSandbox({ port: 0, dataDir: sandboxDir, users: [{ name: USER, password: PASSWORD }] });
});

afterAll(async () => {
  await sandbox?.close();
  token?.cleanup();
  rmSync(sandboxDir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

describe('mkm gateway', () => {
  let transportId: string;

  it('adds a pinned profile and registers an RSA-2048 transport key made on the token', async () => {
    const profile = await json<{ id: string; tlsPinSha256: string }>(
      gatewayAddArgs({
        name: 'Sandbox',
        url: sandbox.url,
        user: USER,
        pin: sandbox.pin,
        cse: 'oaep',
        keyRolling: true,
      }),
    );
    expect(profile).toMatchObject({ id: 'sandbox', tlsPinSha256: sandbox.pin });

    const key = await json<{ id: string }>([
      'keys',
      'generate',
      '--type',
      'rsa-2048',
      '--label',
      'gw-transport',
      '--purpose',
      'gateway-transport',
    ]);
    transportId = key.id;

    const registered = await json<{ keyId: string; created: boolean; keySet: { setId?: string } }>([
      'gateway',
      'register',
      'gw-transport',
    ]);
    expect(registered).toMatchObject({ keyId: transportId, created: true });
    expect(registered.keySet.setId).toEqual(expect.any(String));
  });

  it("fetches the gateway's public key and shows the pinned fingerprint", async () => {
    const target = { url: sandbox.url, caPem: sandbox.caPem, pin: sandbox.pin };
    const served = await call(target, 'GET', '/v1/encryption/public_key', {
      token: await login(target, USER, PASSWORD),
    });
    const fingerprint = served.body.spki_sha256 as string;

    const r = await mkm(['gateway', 'fetch-key']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`pinned spki-sha256 ${fingerprint}`);
  });

  it('pings twice, each under a fresh one-use key set', async () => {
    const first = await json<{ setId: string; serverTime: string }>(['gateway', 'ping']);
    const second = await json<{ setId: string; serverTime: string }>(['gateway', 'ping', 'sandbox']);
    expect(first.serverTime).toEqual(expect.any(String));
    expect(second.setId).not.toBe(first.setId);
  });

  it('syncs, and its status names keys by id and fingerprint, never by their material', async () => {
    const sync = await json<{ ok: boolean; keySet: { setId: string } | null }>(['gateway', 'sync']);
    expect(sync.ok).toBe(true);
    expect(sync.keySet?.setId).toEqual(expect.any(String));

    const r = await mkm(['--json', 'gateway', 'status']);
    expect(r.code, r.stderr).toBe(0);
    const status = JSON.parse(r.stdout);
    expect(status).toMatchObject({
      gatewayKey: { status: 'pinned' },
      rotationPending: false,
      merchantKeys: [{ keyId: transportId, status: 'active' }],
      lastSync: { ok: true },
    });
    expect(r.stdout).not.toMatch(/BEGIN|PRIVATE|"pem"|enc_key|mac_key/);

    const human = await mkm(['gateway', 'status']);
    expect(human.stdout).toMatch(/gateway key +pinned spki-sha256 [0-9a-f]{64}/);
    expect(human.stdout).toContain(`transport key    ${transportId}  active`);
  });

  it('holds the pinned key when the gateway rotates it, until an admin confirms the new fingerprint', async () => {
    const target = { url: sandbox.url, caPem: sandbox.caPem, pin: sandbox.pin };
    const bearer = await login(target, USER, PASSWORD);
    const before = await json<{ pinned: { spkiSha256: string } }>(['gateway', 'fetch-key']);
    expect(
      (await call(target, 'POST', '/sandbox/rotate_public_key', { token: bearer, json: {} })).status,
    ).toBe(200);

    const fetched = await mkm(['gateway', 'fetch-key']);
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(fetched.stdout).toContain(`pinned spki-sha256 ${before.pinned.spkiSha256}`);
    expect(fetched.stdout).toContain('ROTATION PENDING');
    const status = await json<{ rotationPending: boolean; gatewayKey: { pending: { spkiSha256: string } } }>([
      'gateway',
      'status',
    ]);
    expect(status.rotationPending).toBe(true);
    const next = status.gatewayKey.pending.spkiSha256;
    expect(next).not.toBe(before.pinned.spkiSha256);

    const wrong = await mkm(['gateway', 'confirm-rotation', before.pinned.spkiSha256]);
    expect(wrong.stderr).toMatch(/\[CONFLICT\]/);
    const confirmed = await json<{ status: string; pinned: { spkiSha256: string } }>([
      'gateway',
      'confirm-rotation',
      next,
    ]);
    expect(confirmed).toMatchObject({ status: 'pinned', pinned: { spkiSha256: next } });
  });

  it('contract 1.1: shows the pinned signing key; a new one waits until confirm-signing-rotation names it', async () => {
    const target = { url: sandbox.url, caPem: sandbox.caPem, pin: sandbox.pin };
    const bearer = await login(target, USER, PASSWORD);
    const served = (await call(target, 'GET', '/v1/encryption/signing_key', { token: bearer })).body
      .spki_sha256 as string;
    const shown = await mkm(['gateway', 'status']);
    expect(shown.stdout).toContain(`signing key      pinned spki-sha256 ${served}`);
    expect(
      (await call(target, 'POST', '/sandbox/rotate_signing_key', { token: bearer, json: {} })).status,
    ).toBe(200);
    const fetched = await mkm(['gateway', 'fetch-signing-key']);
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(fetched.stdout).toContain(`pinned spki-sha256 ${served}`);
    expect(fetched.stdout).toContain('SIGNING KEY ROTATION PENDING');
    const status = await json<{
      signingRotationPending: boolean;
      signingKey: { pending: { spkiSha256: string } };
    }>(['gateway', 'status']);
    expect(status.signingRotationPending).toBe(true);
    const next = status.signingKey.pending.spkiSha256;
    expect(fetched.stdout).toContain(`mkm gateway confirm-signing-rotation ${next}`);
    const wrong = await mkm(['gateway', 'confirm-signing-rotation', served]);
    expect(wrong.stderr).toMatch(/\[CONFLICT\]/);
    const confirmed = await json<{ status: string; pinned: { spkiSha256: string } }>([
      'gateway',
      'confirm-signing-rotation',
      next,
    ]);
    expect(confirmed).toMatchObject({ status: 'pinned', pinned: { spkiSha256: next } });
    const ping = await mkm(['gateway', 'ping']);
    expect(ping.code, ping.stderr).toBe(0);
    expect(ping.stdout).toMatch(/next set ks_/);
  });

  it('without MKM_GATEWAY_PASSWORD and no terminal to ask on, says which variable to set, exit 1', async () => {
    const r = await mkm(['gateway', 'fetch-key'], token.modulePath, { MKM_GATEWAY_PASSWORD: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/MKM_GATEWAY_PASSWORD.*\[GATEWAY_PASSWORD_REQUIRED\]/);
  });

  it('refuses a gateway whose TLS key is not the pinned one, in one line, exit 1', async () => {
    await json(gatewayAddArgs({ name: 'Wrong pin', url: sandbox.url, user: USER, pin: '0'.repeat(64) }));
    const r = await mkm(['gateway', 'fetch-key', '--profile', 'wrong-pin']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^mkm: .*\[GATEWAY_TLS_PIN_MISMATCH\]\n$/);
  });

  it("imports a gateway's public key PEM by hand for a gateway without a key endpoint, with no token", async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const file = join(dataDir, 'gateway-public.pem');
    writeFileSync(file, publicKey.export({ type: 'spki', format: 'pem' }));
    await json(gatewayAddArgs({ name: 'Manual', url: 'https://gateway.invalid', user: USER, cse: 'pkcs1' }));
    // No token is involved: a library that does not exist is never loaded.
    const r = await mkm(['gateway', 'import-key', file, '--profile', 'manual'], '/nonexistent/libpkcs11.so');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `pinned spki-sha256 ${createHash('sha256').update(spki).digest('hex')}  imported`,
    );
    expect(r.stdout).toContain('RSAES-PKCS1-V1_5');
  });

  it('forgets a profile only with --yes, and moves its pinned state aside', async () => {
    expect((await mkm(['gateway', 'remove', 'manual'])).stderr).toMatch(/\[CONFIRMATION_REQUIRED\]/);
    expect(await json(['gateway', 'remove', 'manual', '--yes'])).toEqual({ removed: true });
    const left = await json<{ id: string }[]>(['gateway', 'list']);
    expect(left.map((p) => p.id)).toEqual(['sandbox', 'wrong-pin']);
    expect(existsSync(join(dataDir, 'gateway', 'gateway-manual.json'))).toBe(false);
  });

  it('keeps the audit trail and writes neither the PIN nor the gateway password anywhere', async () => {
    const exported = await json<{ action: string; result: string }[]>([
      'audit',
      'export',
      '--format',
      'json',
    ]);
    const actions = exported.map((e) => `${e.action}:${e.result}`);
    expect(actions).toEqual(
      expect.arrayContaining([
        'gateway.profile.add:ok',
        'gateway.merchant-key.register:ok',
        'gateway.gateway-key.fetch:ok',
        'gateway.gateway-key.pin:ok',
        'gateway.secure.send:ok',
        'gateway.gateway-key.fetch:GATEWAY_TLS_PIN_MISMATCH',
        'gateway.gateway-key.rotation-detected:CONFIRMATION_REQUIRED',
        'gateway.gateway-key.rotation-confirmed:ok',
        'gateway.gateway-key.import:ok',
        'gateway.profile.remove:ok',
      ]),
    );
    expect(findSecrets([dataDir], [PASSWORD, token.userPin])).toEqual([]);
  });
});
