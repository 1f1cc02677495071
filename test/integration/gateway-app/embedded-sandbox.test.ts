import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../../electron/core/app.nodejs';
import { createLogger } from '../../../electron/core/logger.nodejs';
import { dataPaths } from '../../../electron/core/paths.nodejs';
import type { Envelope } from '../../../shared/contract-kit.std';
import type { GatewayProfileView, GatewayStatus } from '../../../shared/contract.std';
import type { GatewayEmbeddedSandbox, GatewayPingResult } from '../../../shared/contract/gateway.std';
import { findSecrets } from '../../helpers/scan';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * The embedded default of an unpackaged UI: with no gateway profile, the admin can start the
 * local sandbox; it gets a "Local sandbox (demo)" profile pinned to its TLS key and a demo
 * password known only to this process; it stops when the app closes and comes back at the next
 * launch. A packaged app never starts it.
 */
let token: SoftHsmToken;
let dataDir: string;
let app: App;

const dispatch = (target: App, channel: string, request?: unknown): Promise<Envelope> =>
  target.registry.dispatch(channel, request, { transport: 'cli' });
async function ok<T>(channel: string, request?: unknown, target = app): Promise<T> {
  const envelope = await dispatch(target, channel, request);
  if (!envelope.ok) throw new Error(`${channel}: ${envelope.error.code} ${envelope.error.message}`);
  return envelope.result as T;
}
const open = (appOptions: { packaged?: boolean; dir?: string } = {}) =>
  createApp({
    mode: 'browser',
    dataDir: appOptions.dir ?? dataDir,
    packaged: appOptions.packaged ?? false,
    moduleOverride: token.modulePath,
    isTrustedSender: () => true,
    // The app's own logger, into the data folder at debug level: the scan below reads it too.
    logger: createLogger({
      name: 'main',
      file: dataPaths(appOptions.dir ?? dataDir).logFile,
      level: 'debug',
      stderrLevel: 'silent',
    }),
  });
const listening = (url: string) =>
  new Promise<boolean>((resolve) => {
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

beforeAll(() => {
  token = createSoftHsmToken({ label: 'gw-embedded', userPin: '3318-gw-emb', setProcessEnv: false });
  process.env.SOFTHSM2_CONF = token.confPath;
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-gw-embedded-'));
});

afterAll(async () => {
  await app?.close();
  token?.cleanup();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the embedded local sandbox', () => {
  it('is never started by a packaged app', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mkm-gw-packaged-'));
    const packaged = open({ packaged: true, dir });
    try {
      expect(await ok<GatewayEmbeddedSandbox>('gateway.embeddedSandbox', undefined, packaged)).toMatchObject({
        available: false,
        running: false,
      });
      const refused = await dispatch(packaged, 'gateway.startEmbeddedSandbox');
      expect(!refused.ok && refused.error.code).toBe('NOT_IMPLEMENTED');
      expect(existsSync(join(dir, 'sandbox'))).toBe(false);
      expect(await ok('gateway.listProfiles', undefined, packaged)).toEqual([]);
    } finally {
      await packaged.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  let url: string;
  let pin: string;
  let keyId: string;

  it('is offered with no profile, and starting it makes a pinned demo profile with a session password', async () => {
    app = open();
    expect(await ok('gateway.listProfiles')).toEqual([]);
    expect(await ok<GatewayEmbeddedSandbox>('gateway.embeddedSandbox')).toEqual({
      available: true,
      running: false,
      url: null,
      profileId: null,
    });
    const started = await ok<GatewayEmbeddedSandbox>('gateway.startEmbeddedSandbox');
    expect(started).toMatchObject({ available: true, running: true, profileId: 'local-sandbox' });
    url = started.url!;
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(existsSync(join(dataDir, 'sandbox'))).toBe(true);
    // Starting again is the same sandbox.
    expect((await ok<GatewayEmbeddedSandbox>('gateway.startEmbeddedSandbox')).url).toBe(url);

    const [profile] = await ok<GatewayProfileView[]>('gateway.listProfiles');
    expect(profile).toMatchObject({
      id: 'local-sandbox',
      name: 'Local sandbox (demo)',
      baseUrl: url,
      username: 'demo',
      demo: true,
      passwordKnown: true,
      keyRolling: true,
    });
    expect(profile!.tlsPinSha256).toMatch(/^[0-9a-f]{64}$/);
    pin = profile!.tlsPinSha256!;
  });

  it('works as a gateway: register a transport key and ping', async () => {
    await ok('tokens.login', { slotId: token.slotId, pin: token.userPin });
    const key = await ok<{ id: string }>('keys.generate', {
      slotId: token.slotId,
      type: 'rsa-2048',
      label: 'demo-transport',
      purpose: 'gateway-transport',
    });
    keyId = key.id;
    await ok('gateway.registerTransportKey', { profileId: 'local-sandbox', slotId: token.slotId, keyId });
    const sync = await ok<{ ok: boolean }>('gateway.sync', { profileId: 'local-sandbox' });
    expect(sync.ok).toBe(true);
    const ping = await ok<GatewayPingResult>('gateway.ping', { profileId: 'local-sandbox' });
    expect(ping.serverTime).toEqual(expect.any(String));
  });

  it('stops when the app closes, and comes back (same TLS key, same registrations) at the next launch', async () => {
    await app.close();
    expect(await listening(url)).toBe(false);

    app = open();
    let status = await ok<GatewayEmbeddedSandbox>('gateway.embeddedSandbox');
    for (let i = 0; i < 100 && !status.running; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await ok<GatewayEmbeddedSandbox>('gateway.embeddedSandbox');
    }
    expect(status.running).toBe(true);
    const [profile] = await ok<GatewayProfileView[]>('gateway.listProfiles');
    expect(profile).toMatchObject({
      id: 'local-sandbox',
      baseUrl: status.url,
      tlsPinSha256: pin,
      passwordKnown: true,
    });

    await ok('tokens.login', { slotId: token.slotId, pin: token.userPin });
    const ping = await ok<GatewayPingResult>('gateway.ping', { profileId: 'local-sandbox' });
    expect(ping.nextKeySet).toMatchObject({ wrappingKeyId: keyId });
    const s = await ok<GatewayStatus>('gateway.status', { profileId: 'local-sandbox' });
    expect(s.gatewayKey.status).toBe('pinned');
  });

  it('a profile the admin adds in browser mode asks for its password, kept in memory only', async () => {
    await ok('gateway.addProfile', {
      name: 'Typed',
      baseUrl: (await ok<GatewayEmbeddedSandbox>('gateway.embeddedSandbox')).url,
      username: 'nobody',
      tlsPinSha256: pin,
    });
    const views = await ok<GatewayProfileView[]>('gateway.listProfiles');
    expect(views.find((p) => p.id === 'typed')?.passwordKnown).toBe(false);
    const needs = await dispatch(app, 'gateway.fetchKey', { profileId: 'typed' });
    expect(!needs.ok && needs.error.code).toBe('GATEWAY_PASSWORD_REQUIRED');

    const typed = 'typed-in 4471 secret';
    expect(await ok('gateway.setPassword', { profileId: 'typed', password: typed })).toEqual({
      kept: 'session',
    });
    // In browser mode nothing can keep it across sessions.
    const remember = await dispatch(app, 'gateway.setPassword', {
      profileId: 'typed',
      password: typed,
      remember: true,
    });
    expect(!remember.ok && remember.error.code).toBe('SECRET_STORAGE_UNAVAILABLE');
    const wrongUser = await dispatch(app, 'gateway.fetchKey', { profileId: 'typed' });
    expect(!wrongUser.ok && wrongUser.error.code).toBe('GATEWAY_UNAUTHORIZED');
    const listed = JSON.stringify(await ok('gateway.listProfiles'));
    expect(listed).not.toContain(typed);
    // The scan covers the app's log too (debug level), not only its state files.
    expect(readFileSync(dataPaths(dataDir).logFile, 'utf8')).toContain('gateway password set');
    expect(findSecrets([dataDir], [typed, token.userPin])).toEqual([]);
  });
});
