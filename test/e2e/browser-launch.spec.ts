import { chromium, expect, test, type Browser } from '@playwright/test';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../helpers/ws-client';
import { startBrowserModeProcess, type BrowserModeProcess } from './fixtures';

/**
 * `npm start` in browser mode, as a user runs it (`--open`): the per-launch secret must never sit
 * in any process's argv, where every local user can read it (/proc/PID/cmdline), and the link it
 * prints works once. Chromium runs headless through a wrapper so the test can reach the page over
 * the DevTools protocol; everything else is the real launch path of electron/browser/cli.nodejs.ts.
 */
const chromiumPath = process.env.MKM_CHROMIUM ?? '/usr/bin/chromium';

let work: string;
let server: BrowserModeProcess | null = null;
let browser: Browser | null = null;

// eslint-disable-next-line no-empty-pattern
test.beforeEach(({}, testInfo) => {
  test.skip(testInfo.project.name === 'electron', 'browser mode only');
  work = mkdtempSync(join(tmpdir(), 'mkm-launch-e2e-'));
});

test.afterEach(async () => {
  await browser?.close().catch(() => {});
  browser = null;
  await server?.stop();
  server = null;
  rmSync(work, { recursive: true, force: true });
});

/** Every process's command line, Chromium's renderer, GPU and utility children included. */
function allCommandLines(): { pid: string; ppid: string; cmdline: string }[] {
  const out: { pid: string; ppid: string; cmdline: string }[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      // stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]!;
      out.push({ pid, ppid, cmdline });
    } catch {
      // gone between the listing and the read
    }
  }
  return out;
}

async function waitFor<T>(what: string, probe: () => T | null | undefined): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('the secret is in no process argv, and the printed link works once', async () => {
  const devtoolsFile = join(work, 'devtools.txt');
  const wrapper = join(work, 'chromium.sh');
  writeFileSync(
    wrapper,
    `#!/bin/sh\nexec ${chromiumPath} --headless=new --no-sandbox --disable-gpu --remote-debugging-port=0 "$@" 2>"${devtoolsFile}"\n`,
  );
  chmodSync(wrapper, 0o700);
  // A display is claimed so --open launches Chromium (headless: it never uses it).
  server = await startBrowserModeProcess(join(work, 'data'), {
    args: ['--open', '--chromium', wrapper],
    env: { DISPLAY: ':99' },
  });
  const printed = server.url;
  const printedUrl = new URL(printed);
  const code = printedUrl.searchParams.get('code')!;
  expect(code.length).toBeGreaterThanOrEqual(32);

  const endpoint = await waitFor('the DevTools endpoint', () => {
    const text = existsSync(devtoolsFile) ? readFileSync(devtoolsFile, 'utf8') : '';
    return /DevTools listening on (ws:\/\/\S+)/.exec(text)?.[1];
  });
  browser = await chromium.connectOverCDP(endpoint);
  const page = await waitFor('the app page', () =>
    browser!
      .contexts()
      .flatMap((c) => c.pages())
      .find((p) => p.url().startsWith(printedUrl.origin)),
  );
  await page.waitForFunction(() => sessionStorage.getItem('mkm-secret'));
  const secret = (await page.evaluate(() => sessionStorage.getItem('mkm-secret')))!;
  expect(secret.length).toBeGreaterThanOrEqual(32);
  // The page is really driven by that secret, and it left the address bar.
  expect(
    await page.evaluate(
      async () =>
        (
          await (
            window as unknown as { mkm: { app: { status(): Promise<{ mode: string }> } } }
          ).mkm.app.status()
        ).mode,
    ),
  ).toBe('browser');
  expect(page.url()).not.toContain(secret);

  const lines = allCommandLines();
  // The scan saw the browser mode process and Chromium with its children.
  expect(lines.some((l) => l.cmdline.includes('electron/browser/cli.nodejs.ts'))).toBe(true);
  const ours = lines.find((l) => l.pid === String(server!.child.pid))!;
  expect(ours).toBeTruthy();
  const descendants = new Set([ours.pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const l of lines) {
      if (descendants.has(l.ppid) && !descendants.has(l.pid)) grew = descendants.add(l.pid) !== null;
    }
  }
  const chromiumChildren = lines.filter((l) => descendants.has(l.pid) && l.cmdline.includes('--type='));
  expect(chromiumChildren.length).toBeGreaterThan(0);
  expect(lines.filter((l) => l.cmdline.includes(secret))).toEqual([]);
  expect(lines.filter((l) => l.cmdline.includes(code))).toEqual([]);
  // The launcher page that carried the link to Chromium is gone once used.
  const launcherArg = lines.map((l) => /--app=file:\/\/(\S+)/.exec(l.cmdline)?.[1]).find(Boolean);
  expect(launcherArg).toBeTruthy();
  expect(existsSync(decodeURIComponent(launcherArg!))).toBe(false);

  // The printed link, used again, gives nothing: no redirect, no secret.
  const again = await fetch(printed, { redirect: 'manual' });
  expect(again.status).toBe(410);
  expect(again.headers.get('location')).toBeNull();
  expect(await again.text()).not.toContain(secret);
  // And its code is no key to the socket.
  await expect(connect(printedUrl.origin, code)).rejects.toThrow('UNAUTHENTICATED');
});
