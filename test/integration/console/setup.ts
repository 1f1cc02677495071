import { execFileSync } from 'node:child_process';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App } from '../../../electron/core/app.nodejs';
import { createLogger, silentLogger } from '../../../electron/core/logger.nodejs';
import { dataPaths } from '../../../electron/core/paths.nodejs';
import { startSandbox, type SandboxHandle } from '../../../electron/gateway/sandbox/server.nodejs';
import type { Envelope } from '../../../shared/contract-kit.std';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * The console's real surroundings: the app (browser mode, its registry), a SoftHSM2 token, and
 * the sandbox gateway on 127.0.0.1 with a profile that pins it, a transport key registered and
 * the gateway's key pinned. The sandbox's data folder holds the clear test keys an independent
 * check needs: the gateway's RSA private key and each unused set's AES and HMAC keys.
 */
export const USER = 'console-merchant';
export const PASSWORD = 'console sandbox pass 4410';

export interface ConsoleRig {
  token: SoftHsmToken;
  sandbox: SandboxHandle;
  sandboxDir: string;
  dataDir: string;
  app: App;
  profileId: string;
  call(channel: string, request?: unknown): Promise<Envelope>;
  ok<T>(channel: string, request?: unknown): Promise<T>;
  code(channel: string, request?: unknown): Promise<string>;
  /** The sandbox's current gateway private key (PEM) and its KeyObject. */
  gatewayPrivateKey(): { pem: string; key: KeyObject; path: string };
  /** An unused set's clear keys from the sandbox's state (hex). */
  setKeys(setId: string): { encHex: string; macHex: string; ivHex: string };
  /** Closes the app only (as quitting does); close() then skips it. */
  closeApp(): Promise<void>;
  close(): Promise<void>;
}

export function openssl(args: string[], input?: Buffer): Buffer {
  return execFileSync('openssl', args, input === undefined ? {} : { input });
}

export async function createConsoleRig(
  options: {
    cse?: 'RSAES-OAEP-SHA256' | 'RSAES-PKCS1-V1_5';
    label?: string;
    /** Log at debug level to the data folder's log file (a scan of the folder then reads it too). */
    log?: boolean;
  } = {},
): Promise<ConsoleRig> {
  process.env.MKM_GATEWAY_PASSWORD = PASSWORD;
  const token = createSoftHsmToken({ label: options.label ?? 'console', setProcessEnv: true });
  const sandboxDir = mkdtempSync(join(tmpdir(), 'mkm-console-sandbox-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'mkm-console-data-'));
  const sandbox = await startSandbox({
    port: 0,
    dataDir: sandboxDir,
    users: [{ name: USER, password: PASSWORD }],
  });
  const app = createApp({
    mode: 'browser',
    dataDir,
    moduleOverride: token.modulePath,
    isTrustedSender: () => true,
    logger: options.log
      ? createLogger({
          name: 'main',
          file: dataPaths(dataDir).logFile,
          level: 'debug',
          stderrLevel: 'silent',
        })
      : silentLogger,
  });
  const call = (channel: string, request?: unknown) =>
    app.registry.dispatch(channel, request, { transport: 'cli' });
  const ok = async <T>(channel: string, request?: unknown): Promise<T> => {
    const envelope = await call(channel, request);
    if (!envelope.ok) throw new Error(`${channel}: ${envelope.error.code} ${envelope.error.message}`);
    return envelope.result as T;
  };
  const code = async (channel: string, request?: unknown) => {
    const envelope = await call(channel, request);
    return envelope.ok ? 'ok' : envelope.error.code;
  };

  await ok('tokens.login', { slotId: token.slotId, pin: token.userPin });
  const profile = await ok<{ id: string }>('gateway.addProfile', {
    name: 'Console sandbox',
    baseUrl: sandbox.url,
    username: USER,
    tlsPinSha256: sandbox.pin,
    cse: options.cse ?? 'RSAES-OAEP-SHA256',
    passwordEnv: 'MKM_GATEWAY_PASSWORD',
    keyRolling: true,
  });
  const transport = await ok<{ id: string }>('keys.generate', {
    slotId: token.slotId,
    type: 'rsa-2048',
    label: 'console-transport',
    purpose: 'gateway-transport',
  });
  await ok('gateway.registerTransportKey', {
    profileId: profile.id,
    slotId: token.slotId,
    keyId: transport.id,
  });
  await ok('gateway.fetchKey', { profileId: profile.id });

  const state = () =>
    JSON.parse(readFileSync(join(sandboxDir, 'state.json'), 'utf8')) as {
      gateway_keys: { current: { key_id: string } };
      key_sets: Record<string, { enc_key: string | null; mac_key: string | null; iv: string }>;
    };

  let appClosed: Promise<void> | undefined;
  return {
    token,
    sandbox,
    sandboxDir,
    dataDir,
    app,
    profileId: profile.id,
    call,
    ok,
    code,
    gatewayPrivateKey() {
      const path = join(sandboxDir, 'gateway-keys', `${state().gateway_keys.current.key_id}.pem`);
      const pem = readFileSync(path, 'utf8');
      return { pem, key: createPrivateKey(pem), path };
    },
    setKeys(setId) {
      const set = state().key_sets[setId];
      if (!set?.enc_key || !set.mac_key) throw new Error(`the sandbox holds no clear keys for ${setId}`);
      const hex = (b64: string) => Buffer.from(b64, 'base64').toString('hex');
      return { encHex: hex(set.enc_key), macHex: hex(set.mac_key), ivHex: hex(set.iv) };
    },
    async closeApp() {
      appClosed ??= app.close();
      await appClosed;
    },
    async close() {
      appClosed ??= app.close();
      await appClosed;
      await sandbox.close();
      token.cleanup();
      rmSync(sandboxDir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
