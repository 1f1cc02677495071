import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../../electron/core/app.nodejs';
import { createLogger } from '../../../electron/core/logger.nodejs';
import { dataPaths } from '../../../electron/core/paths.nodejs';
import { startSandbox, type SandboxHandle } from '../../../electron/gateway/sandbox/server.nodejs';
import type { Envelope } from '../../../shared/contract-kit.std';
import type {
  AuditEntryView,
  GatewayStatus,
  LifecycleKeyView,
  LifecycleVersionView,
} from '../../../shared/contract.std';
import type { GatewayPingResult, GatewayRegistration } from '../../../shared/contract/gateway.std';
import { findSecrets } from '../../helpers/scan';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { call, login, type Target } from '../sandbox/client';

/**
 * The key lifecycle and the gateway together, through the app's registry, on SoftHSM2 and the
 * real sandbox: a rotation of a gateway-transport key registers the new version at the
 * gateway, key sets then come wrapped under it, a set issued under the old version still
 * unwraps on the token during the overlap, and once the old version leaves service the gateway
 * has retired it and refuses it.
 */
const USER = 'merchant-hooks';
const PASSWORD = 'hooks pass 7781-q';
let token: SoftHsmToken;
let sandbox: SandboxHandle;
let target: Target;
let sandboxDir: string;
let dataDir: string;
let app: App;

const dispatch = (channel: string, request?: unknown): Promise<Envelope> =>
  app.registry.dispatch(channel, request, { transport: 'cli' });

async function ok<T>(channel: string, request?: unknown): Promise<T> {
  const envelope = await dispatch(channel, request);
  if (!envelope.ok) throw new Error(`${channel}: ${envelope.error.code} ${envelope.error.message}`);
  return envelope.result as T;
}

beforeAll(async () => {
  token = createSoftHsmToken({ label: 'gw-hooks', userPin: '5521-gw-hooks', setProcessEnv: false });
  process.env.SOFTHSM2_CONF = token.confPath;
  sandboxDir = mkdtempSync(join(tmpdir(), 'mkm-gw-hooks-sandbox-'));
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-gw-hooks-data-'));
  sandbox = await startSandbox({ port: 0, dataDir: sandboxDir, users: [{ name: USER, password: PASSWORD }] });
  target = { url: sandbox.url, caPem: sandbox.caPem, pin: sandbox.pin };
  app = createApp({
    mode: 'browser',
    dataDir,
    moduleOverride: token.modulePath,
    isTrustedSender: () => true,
    // The app's own logger, into the data folder at debug level: the scan below reads it too.
    logger: createLogger({
      name: 'main',
      file: dataPaths(dataDir).logFile,
      level: 'debug',
      stderrLevel: 'silent',
    }),
  });
  await ok('tokens.login', { slotId: token.slotId, pin: token.userPin });
});

afterAll(async () => {
  await app?.close();
  await sandbox?.close();
  token?.cleanup();
  rmSync(sandboxDir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

const gatewayKeys = async () => {
  const reply = await call(target, 'GET', '/v1/encryption/merchant_keys', {
    token: await login(target, USER, PASSWORD),
  });
  return reply.body.keys as { key_id: string; status: string }[];
};

const versionsOf = async (logicalKeyId: string) => {
  const keys = await ok<LifecycleKeyView[]>('lifecycle.list', {});
  return keys.find((k) => k.id === logicalKeyId)!.versions;
};

describe('lifecycle hooks at the gateway', () => {
  let v1: LifecycleVersionView;
  let v2: LifecycleVersionView;
  let wrapping: string;
  /** A set the gateway issued under v1 before the rotation (kept raw, as the gateway sent it). */
  let oldSet: { wrapping_key_id: string; enc_key: string; enc_kcv: string };

  it('links a profile to the logical key when its version 1 is registered there', async () => {
    const created = await ok<{ logicalKey: LifecycleKeyView; version: LifecycleVersionView }>(
      'lifecycle.create',
      { name: 'gw-transport', purpose: 'gateway-transport' },
    );
    v1 = created.version;
    expect(v1.type).toBe('rsa-2048');

    await ok('gateway.addProfile', {
      name: 'Hooks',
      baseUrl: sandbox.url,
      username: USER,
      tlsPinSha256: sandbox.pin,
      keyRolling: true,
    });
    await ok('gateway.setPassword', { profileId: 'hooks', password: PASSWORD });
    const registered = await ok<GatewayRegistration>('gateway.registerTransportKey', {
      profileId: 'hooks',
      slotId: token.slotId,
      keyId: v1.ckaId,
    });
    wrapping = registered.wrapping;
    expect(registered).toMatchObject({ keyId: v1.ckaId, created: true });
    // SoftHSM2 2.6 unwraps only OAEP-SHA1; a newer build may do SHA-256. Whatever the probe found.
    expect(['RSAES-OAEP-SHA256', 'RSAES-OAEP-SHA1']).toContain(wrapping);
    expect((await versionsOf(v1.logicalKeyId)).find((v) => v.id === v1.id)!.gateway.status).toBe(
      'registered',
    );

    const reply = await call(target, 'POST', '/v1/encryption/key_sets', {
      token: await login(target, USER, PASSWORD),
      json: {},
    });
    oldSet = reply.body.next_key_set;
    expect(oldSet.wrapping_key_id).toBe(v1.ckaId);
  });

  it('registers version 2 at the gateway when the lifecycle rotates the key', async () => {
    const rotated = await ok<{ version: LifecycleVersionView }>('lifecycle.rotate', { ref: 'gw-transport' });
    v2 = rotated.version;
    expect(v2).toMatchObject({ version: 2, primary: true });
    expect(v2.ckaId).not.toBe(v1.ckaId);
    expect(v2.gateway.status).toBe('registered');
    expect(v2.gateway.reference).toBe(`hooks:${v2.ckaId}`);

    const keys = await gatewayKeys();
    expect(keys.map((k) => [k.key_id, k.status])).toEqual(
      expect.arrayContaining([
        [v1.ckaId, 'active'],
        [v2.ckaId, 'active'],
      ]),
    );
    const status = await ok<GatewayStatus>('gateway.status', { profileId: 'hooks' });
    expect(status.merchantKeys.find((k) => k.keyId === v2.ckaId)).toMatchObject({
      status: 'active',
      wrapping,
      label: v2.label,
    });
  });

  it('gets key sets wrapped under version 2 from then on', async () => {
    const first = await ok<GatewayPingResult>('gateway.ping', { profileId: 'hooks' });
    expect(first.nextKeySet).toMatchObject({ wrappingKeyId: v2.ckaId });
    const second = await ok<GatewayPingResult>('gateway.ping', { profileId: 'hooks' });
    expect(second.setId).not.toBe(first.setId);
    expect(second.nextKeySet).toMatchObject({ wrappingKeyId: v2.ckaId });
  });

  it('still unwraps a set issued under version 1 during the overlap', async () => {
    const unwrapped = await app.tokens.call('unwrapKey', {
      slotId: token.slotId,
      unwrappingKeyId: v1.ckaId!,
      mechanism: wrapping === 'RSAES-OAEP-SHA256' ? 'RSA_OAEP_SHA256' : 'RSA_OAEP_SHA1',
      wrapped: oldSet.enc_key,
      keyType: 'aes-256',
      label: 'overlap check',
      token: false,
    });
    expect(unwrapped.kcv).toBe(oldSet.enc_kcv);
    await app.tokens.call('destroyObject', {
      slotId: token.slotId,
      id: unwrapped.id,
      class: 'secret',
      confirm: true,
    });
  });

  it('retires version 1 at the gateway when it leaves service, and the gateway refuses it after', async () => {
    await ok('lifecycle.compromise', { versionId: v1.id, note: 'hooks test' });
    const after = (await versionsOf(v1.logicalKeyId)).find((v) => v.id === v1.id)!;
    expect(after.state).toBe('compromised');
    expect(after.gateway.status).toBe('retired');

    expect((await gatewayKeys()).find((k) => k.key_id === v1.ckaId)?.status).toBe('retired');
    const status = await ok<GatewayStatus>('gateway.status', { profileId: 'hooks' });
    expect(status.merchantKeys.find((k) => k.keyId === v1.ckaId)?.status).toBe('retired');

    // Registering the retired key again is refused by the gateway (key ids are not reused).
    const again = await dispatch('gateway.registerTransportKey', {
      profileId: 'hooks',
      slotId: token.slotId,
      keyId: v1.ckaId,
    });
    expect(again.ok).toBe(false);
    expect(!again.ok && again.error).toMatchObject({ details: { gatewayCode: 'KEY_ID_CONFLICT' } });

    // New sets keep coming under version 2.
    const ping = await ok<GatewayPingResult>('gateway.ping', { profileId: 'hooks' });
    expect(ping.nextKeySet).toMatchObject({ wrappingKeyId: v2.ckaId });
  });

  it('audits both hooks, and the password is in no file of the data folder', async () => {
    const { entries } = await ok<{ entries: AuditEntryView[] }>('audit.query', { limit: 2000 });
    const actions = entries.map((e) => `${e.action}:${e.result}`);
    expect(actions).toEqual(
      expect.arrayContaining([
        'key.gateway.register:ok',
        'key.gateway.retire:ok',
        'gateway.merchant-key.retire:ok',
        'gateway.profile.password:ok',
      ]),
    );
    // The scan covers the app's log too (debug level), not only its state files.
    expect(readFileSync(dataPaths(dataDir).logFile, 'utf8')).toContain('gateway password set');
    expect(findSecrets([dataDir], [PASSWORD, token.userPin])).toEqual([]);
  });
});
