import { test as base, _electron, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * `app`: the real app's page, whichever way it runs. In the browser-mode project the services
 * run in a Node child process exactly as `npm start` starts them here; in the electron project
 * Playwright launches the built Electron app.
 */
const root = join(import.meta.dirname, '..', '..');

export interface BrowserModeProcess {
  url: string;
  origin: string;
  dataDir: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The printed URL is a one-time launch link (it holds a code, never the secret): the page that
 * opens it first gets the secret; `url` is for exactly one `page.goto`.
 */
export async function startBrowserModeProcess(
  dataDir: string,
  options: { launchModules?: readonly string[]; args?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<BrowserModeProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'electron/browser/cli.nodejs.ts'),
      '--data-dir',
      dataDir,
      '--port',
      '0',
      ...(options.launchModules ?? []).flatMap((m) => ['--module', m]),
      ...(options.args ?? []),
    ],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MKM_LOG_LEVEL: 'debug', ...options.env },
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`browser mode did not start: ${stderr}`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^browser mode ready at (\S+)$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`browser mode exited with ${code}: ${stderr}`)));
  });
  return {
    url,
    origin: new URL(url).origin,
    dataDir,
    child,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      // The app gives itself 10 s to close cleanly; past 15 s the test still ends.
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

interface Fixtures {
  /** PKCS#11 libraries browser mode is started with (--module): the page may choose them. */
  launchModules: string[];
  dataDir: string;
  app: Page;
  /** Browser-mode process, where the project runs one (null under Electron). */
  server: BrowserModeProcess | null;
}

export const test = base.extend<Fixtures>({
  launchModules: [[], { option: true }],
  // eslint-disable-next-line no-empty-pattern
  dataDir: async ({}, use) => {
    const dir = mkdtempSync(join(tmpdir(), 'mkm-e2e-'));
    await use(dir);
    rmSync(dir, { recursive: true, force: true });
  },
  server: async ({ dataDir, launchModules }, use, testInfo) => {
    if (testInfo.project.name === 'electron') {
      await use(null);
      return;
    }
    const server = await startBrowserModeProcess(dataDir, { launchModules });
    await use(server);
    await server.stop();
  },
  app: async ({ page, server, dataDir }, use, testInfo) => {
    if (testInfo.project.name === 'electron') {
      const electronApp = await _electron.launch({
        args: [join(root, 'dist-electron/main.js')],
        env: { ...process.env, MKM_DATA_DIR: dataDir },
      });
      const window = await electronApp.firstWindow();
      await use(window);
      await electronApp.close();
      return;
    }
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server!.url);
    await use(page);
    if (errors.length) throw new Error(`The page threw: ${errors.join('; ')}`);
  },
});

export const expect = test.expect;
