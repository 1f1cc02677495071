import { constants, generateKeyPairSync, publicEncrypt, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App } from '../../../electron/core/app.nodejs';
import { createLogger } from '../../../electron/core/logger.nodejs';
import { HttpsJsonClient } from '../../../electron/gateway/client/https.nodejs';
import { envSecretProvider } from '../../../electron/gateway/client/profiles.nodejs';
import { GatewaySession } from '../../../electron/gateway/client/session.nodejs';
import { startSandbox, type SandboxHandle } from '../../../electron/gateway/sandbox/server.nodejs';
import type { Envelope } from '../../../shared/contract-kit.std';
import type { Diagnosis } from '../../../shared/contract/troubleshoot.std';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * Real pieces for the troubleshooter: the app (its registry, as every transport reaches it) on
 * a SoftHSM2 token, and two sandbox gateways on 127.0.0.1 standing for two environments
 * ("sandbox" and "production"), each with its own gateway key. The sandbox profile does
 * PayTrace-style CSE (PKCS#1 v1.5) and key rolling with a transport key on the token.
 */
export const USER = 'merchant-diag';
export const PASSWORD = 'diag horse battery staple 7';

export interface DiagnoseHarness {
  app: App;
  token: SoftHsmToken;
  dataDir: string;
  logFile: string;
  sandbox: SandboxHandle;
  production: SandboxHandle;
  /** Milliseconds added to the sandbox's clock (sets issued now expire sooner in real time). */
  skew: { ms: number };
  /** Milliseconds added to the app's clock (what it judges expired), instead of waiting. */
  appSkew: { ms: number };
  ok<T>(channel: string, request?: unknown): Promise<T>;
  call(channel: string, request?: unknown): Promise<Envelope>;
  diagnose(input: string, profileId?: string): Promise<Diagnosis>;
  /** The PEM pinned for a profile (from the client's state file). */
  pinnedPem(profileId: string): string;
  /** The token's RSA "encryption" key: its CKA_ID and public key. */
  encryptionKey: { id: string; pem: string };
  /** base64 of RSA(key, value) with the given padding. */
  encrypt(pem: string | KeyObject, value: string | Buffer, padding?: 'pkcs1' | 'oaep256'): Buffer;
  rotateSandboxKey(): Promise<void>;
  close(): Promise<void>;
}

export function rsaEncrypt(
  key: string | KeyObject,
  value: string | Buffer,
  padding: 'pkcs1' | 'oaep256' = 'pkcs1',
): Buffer {
  return publicEncrypt(
    padding === 'pkcs1'
      ? { key, padding: constants.RSA_PKCS1_PADDING }
      : { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'),
  );
}

export function otherRsaKey(bits = 2048) {
  return generateKeyPairSync('rsa', { modulusLength: bits });
}

export async function createDiagnoseHarness(): Promise<DiagnoseHarness> {
  process.env.MKM_GATEWAY_PASSWORD = PASSWORD;
  const token = createSoftHsmToken({ label: 'diagnose', userPin: 'diag-Pin-8642' });
  const dataDir = mkdtempSync(join(tmpdir(), 'mkm-diagnose-'));
  const sandboxDir = mkdtempSync(join(tmpdir(), 'mkm-diagnose-sbx-'));
  const productionDir = mkdtempSync(join(tmpdir(), 'mkm-diagnose-prod-'));
  const logFile = join(dataDir, 'logs', 'mkm.log');
  const skew = { ms: 0 };
  const appSkew = { ms: 0 };
  const users = [{ name: USER, password: PASSWORD }];
  const sandbox = await startSandbox({
    port: 0,
    dataDir: sandboxDir,
    users,
    publicKeyPadding: 'RSAES-PKCS1-V1_5',
    verifyRateLimit: 1000,
    clock: () => Date.now() + skew.ms,
  });
  const production = await startSandbox({
    port: 0,
    dataDir: productionDir,
    users,
    publicKeyPadding: 'RSAES-PKCS1-V1_5',
  });
  const app = createApp({
    mode: 'browser',
    dataDir,
    moduleOverride: token.modulePath,
    isTrustedSender: () => true,
    logger: createLogger({ name: 'main', file: logFile, level: 'debug', stderrLevel: 'silent' }),
    clock: () => Date.now() + appSkew.ms,
  });
  const call = (channel: string, request?: unknown) =>
    app.registry.dispatch(channel, request, { transport: 'cli' });
  const ok = async <T>(channel: string, request?: unknown): Promise<T> => {
    const envelope = await call(channel, request);
    if (!envelope.ok) throw new Error(`${channel}: ${envelope.error.code} ${envelope.error.message}`);
    return envelope.result as T;
  };

  await ok('tokens.login', { slotId: token.slotId, pin: token.userPin });
  for (const [id, gw] of [
    ['sandbox', sandbox],
    ['production', production],
  ] as const) {
    await ok('gateway.addProfile', {
      id,
      name: id === 'sandbox' ? 'Sandbox' : 'Production',
      baseUrl: gw.url,
      username: USER,
      tlsPinSha256: gw.pin,
      cse: 'RSAES-PKCS1-V1_5',
      passwordEnv: 'MKM_GATEWAY_PASSWORD',
      ...(id === 'sandbox' ? { keyRolling: true } : {}),
    });
    await ok('gateway.fetchKey', { profileId: id });
  }
  const transport = await ok<{ id: string }>('keys.generate', {
    slotId: token.slotId,
    type: 'rsa-2048',
    label: 'diag-transport',
    purpose: 'gateway-transport',
  });
  await ok('gateway.registerTransportKey', {
    profileId: 'sandbox',
    slotId: token.slotId,
    keyId: transport.id,
  });
  const enc = await ok<{ id: string }>('keys.generate', {
    slotId: token.slotId,
    type: 'rsa-2048',
    label: 'diag-encryption',
    purpose: 'encryption',
  });
  const pub = await ok<{ pem: string }>('keys.exportPublic', {
    slotId: token.slotId,
    id: enc.id,
    format: 'pem',
  });

  const pinnedPem = (profileId: string) =>
    (
      JSON.parse(readFileSync(join(dataDir, 'gateway', `gateway-${profileId}.json`), 'utf8')) as {
        gatewayKey: { pinned: { pem: string } };
      }
    ).gatewayKey.pinned.pem;

  return {
    app,
    token,
    dataDir,
    logFile,
    sandbox,
    production,
    skew,
    appSkew,
    ok,
    call,
    diagnose: (input, profileId) =>
      ok<Diagnosis>('troubleshoot.diagnose', { input, ...(profileId ? { profileId } : {}) }),
    pinnedPem,
    encryptionKey: { id: enc.id, pem: pub.pem },
    encrypt: rsaEncrypt,
    async rotateSandboxKey() {
      const http = new HttpsJsonClient({ baseUrl: sandbox.url, tlsPinSha256: sandbox.pin });
      const session = new GatewaySession({
        http,
        profileId: 'sandbox',
        username: USER,
        secrets: envSecretProvider({ env: { MKM_GATEWAY_PASSWORD: PASSWORD } }),
        passwordEnv: 'MKM_GATEWAY_PASSWORD',
      });
      await session.call({ method: 'POST', path: '/sandbox/rotate_public_key', json: {} });
    },
    async close() {
      // A test may have closed the app already to let the CLI have the data folder.
      await app.close().catch(() => undefined);
      await sandbox.close();
      await production.close();
      token.cleanup();
      for (const dir of [dataDir, sandboxDir, productionDir]) rmSync(dir, { recursive: true, force: true });
    },
  };
}
