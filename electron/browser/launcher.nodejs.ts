import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * How browser mode hands its one-time launch link to Chromium without putting it in Chromium's
 * argv (which every local user can read in /proc/PID/cmdline): a page in a private folder (0700,
 * the file 0600) that only redirects to the link. Chromium's argv names the file, not the link.
 */
export interface Launcher {
  /** file:// URL of the launcher page: the only thing Chromium's argv carries. */
  fileUrl: string;
  dir: string;
  remove(): void;
}

export function launcherPage(launchUrl: string): string {
  const url = new URL(launchUrl);
  if (url.protocol !== 'http:' || url.hostname !== '127.0.0.1') {
    throw new Error('the launch link must be a loopback http URL');
  }
  const attr = url.toString().replace(/&/g, '&amp;').replace(/"/g, '&quot;');
  return `<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer"><meta http-equiv="refresh" content="0;url=${attr}"><title>Merchant Key Manager</title>\n`;
}

export function writeLauncher(launchUrl: string, parent: string = tmpdir()): Launcher {
  const dir = mkdtempSync(join(parent, 'mkm-launch-'));
  const file = join(dir, 'launch.html');
  writeFileSync(file, launcherPage(launchUrl), { mode: 0o600, flag: 'wx' });
  return {
    fileUrl: pathToFileURL(file).toString(),
    dir,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function chromiumArgs(launcherFileUrl: string, profileDir: string): string[] {
  return [
    `--app=${launcherFileUrl}`,
    `--user-data-dir=${profileDir}`,
    '--no-first-run',
    '--disable-background-networking',
    '--disable-sync',
  ];
}
