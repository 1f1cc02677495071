import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { filesUnder } from '../../helpers/scan';

/**
 * What ships to the sandboxed side, read as built: the renderer holds no Node built-in and no
 * `require`, and the preload is one self-contained file whose only import is `electron`.
 */
const root = join(import.meta.dirname, '../../..');

beforeAll(() => {
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'error'],
    {
      cwd: root,
      stdio: 'pipe',
    },
  );
}, 120_000);

const builtinPattern = new RegExp(
  `(?:from\\s*|import\\s*\\(\\s*|require\\s*\\(\\s*)["'](?:node:)?(?:${builtinModules
    .filter((m) => !m.startsWith('_'))
    .map((m) => m.replace(/[/]/g, '\\/'))
    .join('|')})["']`,
);

describe('renderer bundle', () => {
  const files = () => filesUnder(join(root, 'dist/renderer')).filter((f) => f.endsWith('.js'));

  it('was built', () => {
    expect(files().length).toBeGreaterThan(0);
  });

  it('holds no Node built-in and no require', () => {
    for (const file of files()) {
      const code = readFileSync(file, 'utf8');
      expect(code, file).not.toMatch(builtinPattern);
      expect(code, file).not.toMatch(/\brequire\s*\(/);
      expect(code, file).not.toMatch(/\bprocess\.(binding|dlopen)\b/);
      expect(code, file).not.toMatch(/ipcRenderer/);
    }
  });
});

describe('preload bundle', () => {
  it('is one file that requires nothing but electron', () => {
    const code = readFileSync(join(root, 'dist-electron/preload.cjs'), 'utf8');
    const required = [...code.matchAll(/\brequire\s*\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]);
    expect(new Set(required)).toEqual(new Set(['electron']));
    expect(code).toContain('exposeInMainWorld');
  });
});

describe('content security policy', () => {
  it('the renderer meta tag says what the shared CSP says (less frame-ancestors, which a meta tag cannot)', async () => {
    const { CSP } = await import('../../../shared/csp.std');
    const html = readFileSync(join(root, 'renderer/index.html'), 'utf8');
    const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
    expect(meta).toBe(CSP.replace("; frame-ancestors 'none'", ''));
    expect(CSP).not.toMatch(/unsafe-(inline|eval)/);
  });
});

describe('HSM host bundle', () => {
  it('runs as built (what Electron forks as a utility process) and talks to a real token', async () => {
    const { HsmClient } = await import('../../../electron/hsm/client.nodejs');
    const { createNodeHostSpawner } = await import('../../../electron/hsm/node-spawner.nodejs');
    const { createSoftHsmToken } = await import('../../helpers/softhsm');
    const token = createSoftHsmToken({ label: 'bundle-test' });
    const client = new HsmClient({
      spawner: createNodeHostSpawner({ hostEntry: join(root, 'dist-electron/hsm-host.js'), env: token.env }),
      idleLogoutMs: 0,
    });
    try {
      await client.start();
      await client.call('loadModule', { path: token.modulePath });
      const slots = await client.call('listSlots', {});
      expect(slots.find((s) => s.slotId === token.slotId)?.token?.label.trim()).toBe('bundle-test');
    } finally {
      await client.stop();
      token.cleanup();
    }
  });
});
