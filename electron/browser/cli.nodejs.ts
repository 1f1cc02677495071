import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../core/logger.nodejs';
import { dataPaths, defaultDataDir } from '../core/paths.nodejs';
import { chromiumArgs, writeLauncher, type Launcher } from './launcher.nodejs';
import { startBrowserMode } from './server.nodejs';

/**
 * `npm run browser` / the fallback of `npm start`: serve the built renderer to Chromium with the
 * real services behind it. Prints one line: `browser mode ready at <url>`, a launch link that
 * works once (with --open, Chromium uses it at once through a private launcher file, so the
 * printed copy is dead by the time anyone else could read it).
 *
 * --module (repeatable) and MKM_MODULE (paths separated by the OS path delimiter) name PKCS#11
 * libraries the page may choose besides the well-known ones: browser mode has no main-side file
 * dialog, and the page itself never names a library main has not been told about.
 */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'data-dir': { type: 'string' },
    renderer: { type: 'string', default: resolve(import.meta.dirname, '../../dist/renderer') },
    open: { type: 'boolean', default: false },
    chromium: { type: 'string' },
    module: { type: 'string', multiple: true },
  },
  strict: true,
});

const dataDir = resolve(values['data-dir'] ?? defaultDataDir());
const logger = createLogger({ name: 'main', file: dataPaths(dataDir).logFile, stderrLevel: 'warn' });
process.on('uncaughtException', (error) => logger.error('uncaught exception', { error }));
process.on('unhandledRejection', (error) => logger.error('unhandled rejection', { error }));

let launcher: Launcher | null = null;
const mode = await startBrowserMode({
  dataDir,
  rendererDir: values.renderer,
  port: Number(values.port),
  logger,
  launchModules: [
    ...(values.module ?? []),
    ...(process.env.MKM_MODULE ?? '').split(delimiter).filter(Boolean),
  ].map((p) => resolve(p)),
  onLaunched: () => launcher?.remove(),
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
  launcher?.remove();
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
    launcher = writeLauncher(mode.url);
    const child = spawn(chromium, chromiumArgs(launcher.fileUrl, profile), { stdio: 'ignore' });
    child.on('exit', () => void shutdown());
  }
}
