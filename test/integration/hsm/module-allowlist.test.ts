import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../../electron/core/app.nodejs';
import type { SenderInfo } from '../../../electron/core/registry.nodejs';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * Which native library main loads is main's decision (issue 10, point 5): a page picks among the
 * well-known libraries, those named when browser mode started, or one main's own dialog picked;
 * any other path is refused before anything is unloaded. Every load is audited with the file's
 * real path and SHA-256. Real SoftHSM2 through the real host process.
 */
const page: SenderInfo = { transport: 'websocket', origin: 'http://127.0.0.1:1', authenticated: true };

let token: SoftHsmToken;
let work: string;
/** A real PKCS#11 library at a path no list names. */
let vendorCopy: string;
const apps: App[] = [];

beforeAll(() => {
  token = createSoftHsmToken({ label: 'allowlist', userPin: '246810', soPin: '13579135' });
  work = mkdtempSync(join(tmpdir(), 'mkm-allowlist-'));
  vendorCopy = join(work, 'vendor', 'libvendor-pkcs11.so');
  mkdirSync(join(work, 'vendor'));
  copyFileSync(token.modulePath, vendorCopy);
});

afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

afterAll(() => {
  token?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

function open(name: string, options: Partial<Parameters<typeof createApp>[0]> = {}): App {
  const app = createApp({
    mode: 'browser',
    dataDir: join(work, name),
    isTrustedSender: () => true,
    ...options,
  });
  apps.push(app);
  return app;
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

async function loads(app: App) {
  const { entries } = await app.audit.query({ action: 'token.module.load' }, 100);
  return entries as unknown as { result: string; details: Record<string, unknown> }[];
}

describe('choosing the PKCS#11 library', () => {
  it('loads a library named at launch, audited with its real path and SHA-256', async () => {
    const app = open('launch', { launchModules: [vendorCopy] });
    const state = await app.registry.dispatch('tokens.modules', undefined, page);
    expect(state).toMatchObject({ ok: true });
    const offered = (state as { result: { wellKnown: { path: string }[] } }).result.wellKnown;
    expect(offered.map((m) => m.path)).toContain(vendorCopy);

    const chosen = await app.registry.dispatch('tokens.selectModule', { path: vendorCopy }, page);
    expect(chosen).toMatchObject({ ok: true, result: { source: 'settings', path: vendorCopy, demo: false } });
    const [load] = await loads(app);
    expect(load).toMatchObject({
      result: 'ok',
      details: { path: realpathSync(vendorCopy), fingerprint: sha256(vendorCopy), demo: false },
    });
  });

  it('audits the load again when a crashed host is restarted', async () => {
    const app = open('restart', { launchModules: [vendorCopy] });
    await app.registry.dispatch('tokens.selectModule', { path: vendorCopy }, page);
    const restored = new Promise<void>((resolve) =>
      app.events.subscribe((name, payload) => {
        if (name === 'tokens.connection' && (payload as { state: string }).state === 'restored') resolve();
      }),
    );
    process.kill((await app.tokens.hsm()).hostPid!, 'SIGKILL');
    await restored;
    await expect
      .poll(async () => (await loads(app)).map((l) => [l.result, l.details.reload, l.details.fingerprint]))
      .toEqual([
        ['ok', true, sha256(vendorCopy)],
        ['ok', false, sha256(vendorCopy)],
      ]);
  });

  it('refuses a path on no list with MODULE_NOT_ALLOWED, and unloads nothing', async () => {
    const app = open('refuse', { launchModules: [token.modulePath] });
    expect(
      await app.registry.dispatch('tokens.selectModule', { path: token.modulePath }, page),
    ).toMatchObject({
      ok: true,
    });
    const hostBefore = (await app.tokens.hsm()).hostPid;
    const loadsBefore = (await loads(app)).length;
    // A real PKCS#11 library, a symlink to an allowed one, and a library that is not PKCS#11.
    const link = join(work, 'link-to-allowed.so');
    symlinkSync(token.modulePath, link);
    for (const path of [vendorCopy, link, '/usr/lib/x86_64-linux-gnu/libc.so.6', '/nonexistent/lib.so']) {
      const refused = await app.registry.dispatch('tokens.selectModule', { path }, page);
      expect(refused, path).toMatchObject({ ok: false, error: { code: 'MODULE_NOT_ALLOWED' } });
    }
    expect((await app.tokens.hsm()).hostPid).toBe(hostBefore);
    expect(await app.registry.dispatch('tokens.modules', undefined, page)).toMatchObject({
      ok: true,
      result: { path: token.modulePath, error: null },
    });
    expect((await loads(app)).length).toBe(loadsBefore);
  });

  it('has no settings field for the library any more', async () => {
    const app = open('settings');
    const patched = await app.registry.dispatch('settings.update', { modulePath: vendorCopy }, page);
    expect(patched).toMatchObject({ ok: false, error: { code: 'VALIDATION' } });
    const settings = await app.registry.dispatch('settings.get', undefined, page);
    expect(settings).toMatchObject({ ok: true });
    expect((settings as { result: object }).result).not.toHaveProperty('modulePath');
  });

  it('browses only where main has a dialog, and loads what the dialog picked', async () => {
    const browser = open('no-dialog');
    expect(await browser.registry.dispatch('tokens.browseModule', {}, page)).toMatchObject({
      ok: false,
      error: { code: 'PICKER_UNAVAILABLE' },
    });
    const picks: (string | null)[] = [null, vendorCopy];
    const electron = open('dialog', {
      dialogs: { open: async () => picks.shift() ?? null, save: async () => null },
    });
    expect(await electron.registry.dispatch('tokens.browseModule', {}, page)).toMatchObject({
      ok: true,
      result: null,
    });
    expect(await electron.registry.dispatch('tokens.browseModule', {}, page)).toMatchObject({
      ok: true,
      result: { path: vendorCopy, canBrowse: true },
    });
    expect((await loads(electron))[0]).toMatchObject({
      result: 'ok',
      details: { path: realpathSync(vendorCopy), fingerprint: sha256(vendorCopy) },
    });
  });

  it('moves a library chosen before 0.3.0 out of the settings, and loads it only while main knows it', async () => {
    const write = (name: string) => {
      const dir = join(work, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, 'mkm-store.json'),
        JSON.stringify({
          settings: {
            theme: 'dark',
            idleLogoutMinutes: 7,
            modulePath: vendorCopy,
            moduleParameters: null,
            confirmDemoToken: false,
          },
          __internal__: { migrations: { version: '0.2.0' } },
        }),
      );
      return name;
    };
    const unknown = open(write('migrated-unknown'));
    const state = await unknown.registry.dispatch('tokens.modules', undefined, page);
    expect(state).toMatchObject({
      ok: true,
      result: { path: null, info: null, error: { code: 'MODULE_NOT_ALLOWED' } },
    });
    expect(await loads(unknown)).toEqual([]);
    const settings = await unknown.registry.dispatch('settings.get', undefined, page);
    expect((settings as { result: object }).result).toEqual({
      theme: 'dark',
      idleLogoutMinutes: 7,
      confirmDemoToken: false,
      firstRunGuideDismissed: false,
    });

    const named = open(write('migrated-named'), { launchModules: [vendorCopy] });
    expect(await named.registry.dispatch('tokens.modules', undefined, page)).toMatchObject({
      ok: true,
      result: { path: vendorCopy, error: null, source: 'settings' },
    });
  });
});
