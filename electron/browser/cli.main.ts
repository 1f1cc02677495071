import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../core/logger.main';
import { dataPaths, defaultDataDir } from '../core/paths.main';
import { startBrowserMode } from './server.main';

/**
 * `npm run browser` / the fallback of `npm start`: serve the built renderer to Chromium with the
 * real services behind it. Prints one line: `browser mode ready at <url>` (the URL carries the
 * per-launch secret, so treat it like a password).
 */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'data-dir': { type: 'string' },
    renderer: { type: 'string', default: resolve(import.meta.dirname, '../../dist/renderer') },
    open: { type: 'boolean', default: false },
    chromium: { type: 'string' },
  },
  strict: true,
});

const dataDir = resolve(values['data-dir'] ?? defaultDataDir());
const logger = createLogger({ name: 'main', file: dataPaths(dataDir).logFile, stderrLevel: 'warn' });
process.on('uncaughtException', (error) => logger.error('uncaught exception', { error }));
process.on('unhandledRejection', (error) => logger.error('unhandled rejection', { error }));

const mode = await startBrowserMode({
  dataDir,
  rendererDir: values.renderer,
  port: Number(values.port),
  logger,
});
console.log(`browser mode ready at ${mode.url}`);

const shutdown = async () => {
  await mode.close();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());

if (values.open) {
  const chromium =
    values.chromium ??
    ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(existsSync);
  if (!chromium) {
    console.log('No Chromium found: open the URL above in a Chromium-based browser.');
  } else if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    console.log('No display: open the URL above in a browser on this machine.');
  } else {
    const profile = mkdtempSync(join(tmpdir(), 'mkm-chromium-'));
    const child = spawn(
      chromium,
      [
        `--app=${mode.url}`,
        `--user-data-dir=${profile}`,
        '--no-first-run',
        '--disable-background-networking',
        '--disable-sync',
      ],
      { stdio: 'ignore' },
    );
    child.on('exit', () => void shutdown());
  }
}
