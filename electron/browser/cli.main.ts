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

// A clean close seals the audit log and finalizes the token; a stuck vendor library or
// filesystem must still not keep the process alive past a signal.
const SHUTDOWN_DEADLINE_MS = 10_000;
let shuttingDown = false;
const shutdown = async () => {
  if (shuttingDown) return;
  shuttingDown = true;
  const started = Date.now();
  const deadline = setTimeout(() => {
    logger.error('shutdown did not finish in time; exiting anyway', { ms: SHUTDOWN_DEADLINE_MS });
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS);
  deadline.unref();
  try {
    await mode.close();
    logger.info('browser mode closed', { ms: Date.now() - started });
    process.exit(0);
  } catch (error) {
    logger.error('browser mode did not close cleanly', { error });
    process.exit(1);
  }
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
