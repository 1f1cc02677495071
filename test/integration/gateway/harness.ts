import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../electron/core/logger.nodejs';
import {
  GatewayClient,
  type GatewayAuditEntry,
  type GatewayClientOptions,
} from '../../../electron/gateway/client/gateway-client.nodejs';
import { envSecretProvider, parseGatewayProfile } from '../../../electron/gateway/client/profiles.nodejs';
import { startSandbox, type SandboxHandle } from '../../../electron/gateway/sandbox/server.nodejs';
import { HsmClient } from '../../../electron/hsm/client.nodejs';
import { createNodeHostSpawner } from '../../../electron/hsm/node-spawner.nodejs';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * Real pieces only: a SoftHSM2 token behind the real HSM host process, the real sandbox
 * gateway on 127.0.0.1 (its clock movable, so tokens and sets expire without sleeping).
 */
export const USER = 'merchant-a';
export const PASSWORD = 'correct horse battery staple';

export interface Harness {
  hsm: SoftHsmToken;
  host: HsmClient;
  sandbox: SandboxHandle;
  sandboxDir: string;
  stateDir: string;
  /** Everything main and the host logged, at debug level (JSON Lines). */
  logFile: string;
  /** Milliseconds added to the sandbox's clock. */
  skew: { ms: number };
  audit: GatewayAuditEntry[];
  client(overrides?: Partial<GatewayClientOptions>): GatewayClient;
  startHost(): Promise<HsmClient>;
  restartSandbox(): Promise<void>;
  transportKey(label: string): Promise<string>;
  sessionObjects(): Promise<string[]>;
  close(): Promise<void>;
}

export async function createHarness(options: { faultTimeoutMs?: number } = {}): Promise<Harness> {
  const hsm = createSoftHsmToken({ setProcessEnv: false, label: 'gw-client', userPin: '7391-gw-pin' });
  const sandboxDir = mkdtempSync(join(tmpdir(), 'mkm-gw-sandbox-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'mkm-gw-state-'));
  const logDir = mkdtempSync(join(tmpdir(), 'mkm-gw-log-'));
  const logFile = join(logDir, 'mkm.log');
  const logger = createLogger({ name: 'main', file: logFile, level: 'debug', stderrLevel: 'error' });
  const skew = { ms: 0 };
  const sandboxOptions = (port: number) => ({
    port,
    dataDir: sandboxDir,
    users: [{ name: USER, password: PASSWORD }],
    clock: () => Date.now() + skew.ms,
    faultTimeoutMs: options.faultTimeoutMs ?? 4000,
  });
  const audit: GatewayAuditEntry[] = [];

  const startHost = async () => {
    const host = new HsmClient({ logger, spawner: createNodeHostSpawner({ env: hsm.env, logger }) });
    await host.start();
    await host.call('loadModule', { path: hsm.modulePath });
    await host.call('login', { slotId: hsm.slotId, pin: hsm.userPin });
    return host;
  };

  const h: Harness = {
    hsm,
    host: await startHost(),
    sandbox: await startSandbox(sandboxOptions(0)),
    sandboxDir,
    stateDir,
    logFile,
    skew,
    audit,
    startHost,
    client(overrides = {}) {
      const profile = parseGatewayProfile({
        id: 'sandbox',
        name: 'Sandbox gateway',
        baseUrl: h.sandbox.url,
        username: USER,
        tlsPinSha256: h.sandbox.pin,
        scheme: { cse: { padding: 'RSAES-OAEP-SHA256' }, keyRolling: true },
        passwordEnv: 'MKM_GATEWAY_PASSWORD',
      });
      return new GatewayClient({
        profile,
        tokens: h.host,
        slotId: hsm.slotId,
        secrets: envSecretProvider({ env: { MKM_GATEWAY_PASSWORD: PASSWORD } }),
        stateDir,
        onAudit: (entry) => audit.push(entry),
        logger,
        http: { timeoutMs: 2500, connectTimeoutMs: 2000, backoffMs: 50 },
        ...overrides,
      });
    },
    async restartSandbox() {
      const port = h.sandbox.port;
      await h.sandbox.close();
      h.sandbox = await startSandbox(sandboxOptions(port));
    },
    async transportKey(label) {
      const key = await h.host.call('generateKey', {
        slotId: hsm.slotId,
        type: 'rsa-2048',
        label,
        purpose: 'gateway-transport',
      });
      return key.id;
    },
    async sessionObjects() {
      const objects = await h.host.call('listObjects', { slotId: hsm.slotId, class: 'secret' });
      return objects.filter((o) => !o.token).map((o) => o.id);
    },
    async close() {
      await h.sandbox?.close();
      await h.host?.stop();
      hsm.cleanup();
      rmSync(sandboxDir, { recursive: true, force: true });
      rmSync(stateDir, { recursive: true, force: true });
      rmSync(logDir, { recursive: true, force: true });
    },
  };
  return h;
}

/** The error code a promise rejects with ('resolved' when it does not). */
export const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (e: unknown) => (e as { code?: string }).code ?? String(e),
  );
